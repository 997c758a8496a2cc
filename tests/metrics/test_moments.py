"""Moment retrieval metrics and frame-score -> moment spans, against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from sevila.metrics import average_precision, frame_scores_to_moments, moment_retrieval_metrics, temporal_iou

TWO_GTS = [(0.0, 10.0), (20.0, 30.0)]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 10), (5, 15), 5 / 15),  # overlap 5, union 15
        ((0, 10), (0, 10), 1.0),
        ((0, 2), (2, 4), 0.0),  # touching
        ((0, 2), (5, 6), 0.0),  # disjoint
        ((3, 3), (0, 10), 0.0),  # zero-length inside: overlap 0, union 10
        ((3, 3), (3, 3), 0.0),  # empty union counts as no overlap
    ],
)
def test_temporal_iou_hand_values(a: tuple[float, float], b: tuple[float, float], expected: float) -> None:
    assert temporal_iou(a, b) == pytest.approx(expected)


def test_average_precision_multiple_ground_truths() -> None:
    # Ranks: TP (gt 0), FP, TP (gt 1). Precisions 1, 1/2, 2/3; interpolated 1 and 2/3 at the TPs.
    # AP = (1 + 2/3) / 2 = 5/6.
    ranked = [(0, 10, 0.9), (40, 50, 0.8), (20, 30, 0.7)]
    assert average_precision(ranked, TWO_GTS, 0.5) == pytest.approx(5 / 6)


def test_average_precision_interpolates_precision_from_deeper_ranks() -> None:
    # Ranks: FP, TP, TP -> precisions 0, 1/2, 2/3. All-point interpolation raises rank 2 to 2/3:
    # AP = (2/3 + 2/3) / 2 = 2/3 (without interpolation it would be (1/2 + 2/3) / 2 = 7/12).
    ranked = [(40, 50, 0.9), (0, 10, 0.8), (20, 30, 0.7)]
    assert average_precision(ranked, TWO_GTS, 0.5) == pytest.approx(2 / 3)


def test_average_precision_matches_each_ground_truth_once() -> None:
    # [1, 10] overlaps gt 0 at IoU 0.9, but gt 0 is taken by the first window: FP.
    # Ranks TP, FP, TP -> AP = (1 + 2/3) / 2 = 5/6, not 1.
    ranked = [(0, 10, 0.9), (1, 10, 0.8), (20, 30, 0.7)]
    assert average_precision(ranked, TWO_GTS, 0.5) == pytest.approx(5 / 6)


def test_average_precision_of_no_windows_is_zero() -> None:
    assert average_precision([], TWO_GTS, 0.5) == 0.0


def test_average_precision_never_matches_zero_length_windows() -> None:
    assert average_precision([(5, 5, 0.9)], [(0.0, 10.0)], 0.5) == 0.0
    assert average_precision([(5, 5, 0.9)], [(5.0, 5.0)], 0.5) == 0.0


def test_average_precision_needs_ground_truth() -> None:
    with pytest.raises(ValueError, match="ground-truth"):
        average_precision([(0, 1, 0.5)], [], 0.5)


def test_metrics_single_query_across_thresholds() -> None:
    # IoU([0, 10], [0, 16]) = 10/16 = 0.625: a hit at 0.5, 0.55, 0.6 and a miss at the 7 others.
    # mAP = 3/10 = 30.0, mAP@0.5 = 100, mAP@0.75 = 0, R1@0.5 = 100, R1@0.7 = 0.
    result = moment_retrieval_metrics({"1": [(0, 10, 0.9)]}, {"1": [(0.0, 16.0)]})
    assert result == {
        "MR-full-R1@0.5": 100.0,
        "MR-full-R1@0.7": 0.0,
        "MR-full-mAP": 30.0,
        "MR-full-mAP@0.5": 100.0,
        "MR-full-mAP@0.75": 0.0,
    }


def test_metrics_query_without_predictions_scores_zero() -> None:
    # Query 1 is perfect (AP 1, R1 hit); query 2 has no windows (AP 0, R1 miss): every metric 50.
    predictions = {"1": [(0, 10, 0.9)], "2": []}
    result = moment_retrieval_metrics(predictions, {"1": [(0.0, 10.0)], "2": [(0.0, 10.0)]})
    assert set(result.values()) == {50.0}
    assert moment_retrieval_metrics({"1": [(0, 10, 0.9)]}, {"1": [(0.0, 10.0)], "2": [(0.0, 10.0)]}) == result


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        # Equal scores keep their listed order: a miss first -> R1 0, AP = precision 1/2 at rank 2 = 0.5.
        ([(50, 60, 0.5), (0, 10, 0.5)], {"MR-full-R1@0.5": 0.0, "MR-full-mAP": 50.0}),
        ([(0, 10, 0.5), (50, 60, 0.5)], {"MR-full-R1@0.5": 100.0, "MR-full-mAP": 100.0}),
        # A higher score ranks first whatever the listed order.
        ([(50, 60, 0.4), (0, 10, 0.5)], {"MR-full-R1@0.5": 100.0, "MR-full-mAP": 100.0}),
    ],
)
def test_metrics_rank_by_score_with_stable_ties(windows: list[tuple[float, ...]], expected: dict[str, float]) -> None:
    result = moment_retrieval_metrics({"1": windows}, {"1": [(0.0, 10.0)]})
    assert {key: result[key] for key in expected} == expected


def test_metrics_r1_accepts_any_ground_truth_window() -> None:
    # Top-1 [20, 29] vs gt 1 [20, 30]: IoU 0.9 >= 0.7 although gt 0 does not overlap.
    result = moment_retrieval_metrics({"1": [(20, 29, 0.9)]}, {"1": TWO_GTS})
    assert result["MR-full-R1@0.7"] == 100.0


def test_metrics_count_only_the_best_ten_windows() -> None:
    # Ten better-scored misses push the only hit to rank 11: cut at 10 -> AP 0;
    # with 11 windows allowed the hit scores precision 1/11 -> mAP@0.5 = 9.09.
    windows = [(100 + i, 101 + i, 0.9) for i in range(10)] + [(0, 10, 0.1)]
    ground_truth = {"1": [(0.0, 10.0)]}
    assert moment_retrieval_metrics({"1": windows}, ground_truth)["MR-full-mAP@0.5"] == 0.0
    assert moment_retrieval_metrics({"1": windows}, ground_truth, max_pred_windows=11)["MR-full-mAP@0.5"] == 9.09


def test_frame_scores_bridge_short_gaps() -> None:
    # yes frames 0, 1, 4 (gap of 2 no frames) form one span of frames 0..4; at 0.5 fps a frame covers
    # 2 s, so the span is [0, 10); its score is the mean over the 5 covered frames = 2.6 / 5 = 0.52.
    moments = frame_scores_to_moments([0.9, 0.8, 0.1, 0.1, 0.7, 0.2], fps=0.5)
    assert moments == [[0.0, 10.0, pytest.approx(0.52)]]


def test_frame_scores_gap_of_six_joins_gap_of_seven_splits() -> None:
    joined = frame_scores_to_moments([1.0] + [0.0] * 6 + [1.0], fps=1.0)
    split = frame_scores_to_moments([1.0] + [0.0] * 7 + [1.0], fps=1.0)
    assert [m[:2] for m in joined] == [[0.0, 8.0]]
    assert [m[:2] for m in split] == [[0.0, 1.0], [8.0, 9.0]]


def test_frame_scores_rank_by_mean_score_then_start() -> None:
    # Span [0, 2) has mean 0.6, span [9, 10) has 0.9; they are 7 frames apart so they stay apart.
    scores = [0.6, 0.6] + [0.0] * 7 + [0.9]
    assert frame_scores_to_moments(scores, fps=1.0) == [[9.0, 10.0, 0.9], [0.0, 2.0, pytest.approx(0.6)]]
    # Equal means: the earlier span first.
    assert [m[0] for m in frame_scores_to_moments([0.8] + [0.0] * 7 + [0.8], fps=1.0)] == [0.0, 8.0]


def test_frame_scores_use_given_timestamps() -> None:
    # Frames at 1, 3, 5 s, each covering 1/fps = 2 s: one span [1, 7), mean (0.9 + 0.2 + 0.8) / 3.
    moments = frame_scores_to_moments(torch.tensor([0.9, 0.2, 0.8]), fps=0.5, timestamps=[1.0, 3.0, 5.0])
    assert moments == [[1.0, 7.0, pytest.approx(1.9 / 3)]]


def test_frame_scores_at_threshold_are_no() -> None:
    assert frame_scores_to_moments([0.5, 0.4], fps=1.0) == []
    assert frame_scores_to_moments([], fps=1.0) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 0.0}, "fps"),
        ({"fps": 1.0, "timestamps": [0.0]}, "one per frame"),
        ({"fps": 1.0, "timestamps": [1.0, 1.0]}, "strictly increasing"),
        ({"fps": 1.0, "max_gap": -1}, "max_gap"),
    ],
)
def test_frame_scores_reject_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        frame_scores_to_moments([0.9, 0.9], **kwargs)  # type: ignore[arg-type]
