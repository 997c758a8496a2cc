"""Accuracy by question type and the NExT-QA / STAR tables."""

from __future__ import annotations

import pytest

from sevila.metrics import QARow, accuracy_by_type, nextqa_metrics, question_type, star_metrics


def _rows(*spec: tuple[str, bool]) -> list[QARow]:
    """Rows from (qid, correct?) pairs: target 0, prediction 0 when correct else 1."""
    return [QARow(qid, 0 if correct else 1, 0) for qid, correct in spec]


def test_question_type_is_prefix_before_first_underscore() -> None:
    assert question_type("CW_4010069381_6") == "CW"
    assert question_type("Interaction_T1_13") == "Interaction"


@pytest.mark.parametrize("qid", ["4010069381", "_12", "TVQA_"])
def test_question_type_rejects_qid_without_prefix(qid: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        question_type(qid)


def test_accuracy_by_type_overall_and_per_prefix() -> None:
    # A: 1 of 2 right = 50.0; B: 1 of 1 = 100.0; overall 2 of 3 = 66.666.. -> 66.67.
    rows = _rows(("B_1", True), ("A_1", True), ("A_2", False))
    assert accuracy_by_type(rows) == {"Acc": 66.67, "Acc_A": 50.0, "Acc_B": 100.0}


def test_accuracy_by_type_without_rows_fails() -> None:
    with pytest.raises(ValueError, match="no questions"):
        accuracy_by_type([])


def test_nextqa_metrics_groups_and_folds_tp_into_tn() -> None:
    # C: CW right, CH wrong -> 50.0. T: TN right, TP wrong, TC right -> 66.67; TN+TP = 1 of 2 -> 50.0.
    # D: DO wrong -> 0.0. Overall 3 of 6 -> 50.0.
    rows = _rows(
        ("CW_1_0", True), ("CH_1_1", False), ("TN_1_2", True), ("TP_1_3", False), ("TC_1_4", True), ("DO_1_5", False)
    )
    assert nextqa_metrics(rows) == {
        "Acc": 50.0,
        "Acc_C": 50.0,
        "Acc_T": 66.67,
        "Acc_D": 0.0,
        "Acc_CW": 100.0,
        "Acc_CH": 0.0,
        "Acc_TN": 50.0,
        "Acc_TC": 100.0,
        "Acc_DO": 0.0,
    }


def test_nextqa_metrics_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="'XX' is not a NExT-QA type"):
        nextqa_metrics(_rows(("XX_1_2", True)))


def test_star_metrics_mean_weighs_categories_equally() -> None:
    # Interaction 1/1 = 100, Sequence 1/2 = 50, Prediction 0/1 = 0, Feasibility 1/4 = 25.
    # Mean = (100 + 50 + 0 + 25) / 4 = 43.75, while the pooled Acc = 3/8 = 37.5.
    rows = _rows(
        ("Interaction_T1_1", True),
        ("Sequence_T1_2", True),
        ("Sequence_T1_3", False),
        ("Prediction_T1_4", False),
        *[(f"Feasibility_T1_{i}", i == 5) for i in range(5, 9)],
    )
    assert star_metrics(rows) == {
        "Mean": 43.75,
        "Acc": 37.5,
        "Acc_Interaction": 100.0,
        "Acc_Sequence": 50.0,
        "Acc_Prediction": 0.0,
        "Acc_Feasibility": 25.0,
    }


def test_star_metrics_needs_all_four_categories() -> None:
    with pytest.raises(ValueError, match="Prediction, Feasibility"):
        star_metrics(_rows(("Interaction_T1_1", True), ("Sequence_T1_2", True)))
