"""NExT-GQA IoP / IoU and the official aggregates on hand-made cases, one rule per test."""

from __future__ import annotations

import pytest

from sevila.metrics.grounding import iop, iou, nextgqa_metrics


def test_iop_divides_the_overlap_by_the_predicted_length() -> None:
    # overlap [5, 10] = 5 s; predicted length 10 s; hull [0, 15] = 15 s
    assert iop([5.0, 15.0], [(0.0, 10.0)]) == 0.5
    assert iou([5.0, 15.0], [(0.0, 10.0)]) == pytest.approx(5 / 15, abs=1e-12)


def test_iop_is_one_for_a_prediction_inside_a_long_window() -> None:
    assert iop([2.0, 3.0], [(0.0, 100.0)]) == 1.0
    assert iou([2.0, 3.0], [(0.0, 100.0)]) == 0.01


def test_best_window_scored_separately_for_iou_and_iop_never_merged() -> None:
    # P = [1, 4] against A = [0, 2] (overlap 1, hull 4) and B = [2.5, 100] (overlap 1.5, hull 99):
    # IoU is best with A (0.25), IoP with B (1.5 / 3 = 0.5); merging A and B would give IoP 2.5 / 3.
    truths = [(0.0, 2.0), (2.5, 100.0)]
    assert iou([1.0, 4.0], truths) == 0.25
    assert iop([1.0, 4.0], truths) == 0.5


def test_point_prediction_has_iop_one_inside_ends_included_and_iou_zero() -> None:
    assert [iop([t, t], [(2.0, 6.0)]) for t in (2.0, 4.0, 6.0, 6.5, 1.9)] == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert iou([4.0, 4.0], [(2.0, 6.0)]) == 0.0


def test_single_number_is_a_point_prediction() -> None:
    assert (iou([4.0], [(2.0, 6.0)]), iop([4.0], [(2.0, 6.0)])) == (0.0, 1.0)


def test_zero_length_ground_truth_window_matches_only_a_point_on_it() -> None:
    assert (iou([2.0, 4.0], [(3.0, 3.0)]), iop([2.0, 4.0], [(3.0, 3.0)])) == (0.0, 0.0)
    assert iop([3.0, 3.0], [(3.0, 3.0)]) == 1.0


def test_reversed_prediction_scores_zero() -> None:
    assert (iou([8.0, 2.0], [(0.0, 10.0)]), iop([8.0, 2.0], [(0.0, 10.0)])) == (0.0, 0.0)


def test_disjoint_prediction_scores_zero_not_negative() -> None:
    assert (iou([20.0, 30.0], [(0.0, 10.0)]), iop([20.0, 30.0], [(0.0, 10.0)])) == (0.0, 0.0)


def test_prediction_past_the_end_of_the_video_is_not_clipped() -> None:
    # A 10 s video, window [8, 10], prediction [9, 13]: overlap 1 s of a 4 s prediction, hull [8, 13]
    assert (iou([9.0, 13.0], [(8.0, 10.0)]), iop([9.0, 13.0], [(8.0, 10.0)])) == (0.2, 0.25)


def test_more_than_two_numbers_read_as_first_and_last() -> None:
    # SeViLA's four keyframe times [1, 50, 2, 4] -> [1, 4]; the 50 in between does not count
    assert (iou([1.0, 50.0, 2.0, 4.0], [(0.0, 4.0)]), iop([1.0, 50.0, 2.0, 4.0], [(0.0, 4.0)])) == (0.75, 1.0)


def test_metrics_thresholds_are_inclusive() -> None:
    # q1: P [0, 10] vs [0, 3]: IoU = IoP = 0.3 exactly; q2: P [2, 6] vs [0, 4]: IoP 0.5, IoU 2/6
    metrics = nextgqa_metrics({"v_1": [(0.0, 3.0)], "v_2": [(0.0, 4.0)]}, {"v_1": [0.0, 10.0], "v_2": [2.0, 6.0]})
    assert metrics.iop_at == {0.3: 100.0, 0.5: 50.0}
    assert metrics.iou_at == {0.3: 100.0, 0.5: 0.0}


def test_acc_gqa_needs_a_right_answer_and_iop_at_least_half_not_iou() -> None:
    truths = {"v_1": [(0.0, 100.0)], "v_2": [(0.0, 100.0)], "v_3": [(0.0, 4.0)], "v_4": [(0.0, 4.0)]}
    # v_1: IoP 1, IoU 0.01, right -> counts; v_2: IoP 1, wrong; v_3: IoP 0.25 (P [3, 7]), right; v_4: IoP 1, right
    windows = {"v_1": [1.0, 2.0], "v_2": [1.0, 2.0], "v_3": [3.0, 7.0], "v_4": [1.0, 3.0]}
    metrics = nextgqa_metrics(truths, windows, {"v_1": True, "v_2": False, "v_3": True, "v_4": True})
    assert metrics.acc_gqa == 50.0
    assert metrics.acc_qa == 75.0


def test_missing_predictions_drop_out_of_grounding_but_not_acc_qa() -> None:
    truths = {"v_1": [(0.0, 4.0)], "v_2": [(0.0, 4.0)], "v_3": [(0.0, 4.0)]}
    metrics = nextgqa_metrics(truths, {"v_1": [0.0, 4.0]}, {"v_1": True, "v_2": False, "v_3": False})
    assert (metrics.num_evaluated, metrics.missing_predictions) == (1, 2)
    assert (metrics.miop, metrics.miou, metrics.acc_gqa) == (100.0, 100.0, 100.0)
    assert metrics.acc_qa == pytest.approx(100 / 3, abs=1e-12)


def test_unmatched_keys_are_ignored_and_counted() -> None:
    windows = {"v_1": [0.0, 4.0], "other_1": [9.0, 9.5], "other_2": [0.0, 1.0]}
    metrics = nextgqa_metrics({"v_1": [(0.0, 4.0)]}, windows, {"v_1": False, "other_1": True})
    assert (metrics.unmatched_predictions, metrics.unmatched_answers, metrics.num_answered) == (2, 1, 1)
    assert (metrics.miop, metrics.acc_qa) == (100.0, 0.0)


def test_answered_question_without_window_is_not_in_acc_gqa() -> None:
    truths = {"v_1": [(0.0, 4.0)], "v_2": [(0.0, 4.0)]}
    metrics = nextgqa_metrics(truths, {"v_1": [5.0, 6.0]}, {"v_1": True, "v_2": True})
    assert (metrics.acc_gqa, metrics.acc_qa) == (0.0, 100.0)


def test_without_answers_the_answer_metrics_are_none() -> None:
    report = nextgqa_metrics({"v_1": [(0.0, 4.0)]}, {"v_1": [0.0, 2.0]}).to_json()
    assert (report["Acc@QA"], report["Acc@GQA"], report["mIoP"], report["mIoU"]) == (None, None, 100.0, 50.0)
    assert (report["num_answered"], report["missing_answers"], report["unmatched_answers"]) == (None, None, None)


def test_no_window_for_any_question_is_an_error() -> None:
    with pytest.raises(ValueError, match="no predicted window"):
        nextgqa_metrics({"v_1": [(0.0, 4.0)]}, {"v_2": [0.0, 4.0]})


def test_report_rounds_as_the_official_scripts_print() -> None:
    # 1 of 3 right: Acc@QA 33.33 (2 decimals, eval_next.py); IoP 2/3 of q1 only: mIoP 22.2 (1 decimal)
    truths = {"v_1": [(0.0, 2.0)], "v_2": [(0.0, 2.0)], "v_3": [(0.0, 2.0)]}
    windows = {"v_1": [0.0, 3.0], "v_2": [5.0, 6.0], "v_3": [5.0, 6.0]}
    report = nextgqa_metrics(truths, windows, {"v_1": True, "v_2": False, "v_3": False}).to_json()
    assert (report["Acc@QA"], report["mIoP"], report["IoP@0.5"], report["Acc@GQA"]) == (33.33, 22.2, 33.3, 33.3)
