"""Mean ± SE over seeds and the paired difference of two cells, against numbers worked out by hand."""

from __future__ import annotations

import pytest

from sevila.errors import SevilaError
from sevila.experiments.aggregate import aggregate, with_se
from sevila.experiments.stats import mean_se, paired_difference
from sevila.experiments.table import HIT_RATE


def _rows(correct: list[bool]) -> list[dict]:
    return [{"qid": f"q{i}", "prediction": 1 if right else 0, "target": 1} for i, right in enumerate(correct)]


def test_mean_se_is_the_sample_std_over_sqrt_n() -> None:
    mean, se = mean_se([60.0, 62.0, 67.0])  # deviations -3, -1, 4: std sqrt(26 / 2), SE sqrt(13) / sqrt(3)
    assert (round(mean, 2), round(se, 2)) == (63.00, 2.08)
    assert mean_se([5.0]) == (5.0, None)


def test_paired_difference_is_the_mean_and_se_of_per_question_differences() -> None:
    # per question other - base: 0, -1, 1, 1 -> mean 0.25, sample variance 2.75 / 3, SE sqrt(2.75 / 3) / 2
    difference, se, count = paired_difference(_rows([True, True, False, False]), _rows([True, False, True, True]), "x")
    assert (difference, count) == (25.0, 4)
    assert se == pytest.approx(47.871355, abs=1e-6)


def test_paired_difference_of_other_questions_is_one_line() -> None:
    with pytest.raises(SevilaError, match=r"^here: the two cells' predictions.json hold other questions \(e.g. \['q2'\]"):
        paired_difference(_rows([True, True, True]), _rows([True, True]), "here")


def test_aggregate_gives_mean_se_and_each_seeds_acc_per_cell() -> None:
    rows = {0: [{"setting": "a", "Acc": 60.0, HIT_RATE: 50.0}, {"setting": "b", "Acc": 40.0, HIT_RATE: None}],
            1: [{"setting": "a", "Acc": 62.0, HIT_RATE: 55.0}, {"setting": "b", "Acc": 44.0, HIT_RATE: None}],
            2: [{"setting": "a", "Acc": 67.0, HIT_RATE: 60.0}, {"setting": "b"}]}  # b not evaluated for seed 2
    table = aggregate(rows, "setting", (), ("Acc", HIT_RATE), "Acc")
    a, b = table
    assert (a["setting"], a["seeds"], round(a["Acc"], 2), round(a["Acc SE"], 2)) == ("a", 3, 63.00, 2.08)
    assert (a[HIT_RATE], round(a[HIT_RATE + " SE"], 2)) == (55.0, 2.89)  # std 5 / sqrt(3)
    assert [a[f"Acc seed {s}"] for s in range(3)] == [60.0, 62.0, 67.0]
    assert (b["seeds"], b["Acc"], b["Acc SE"], b[HIT_RATE], b[HIT_RATE + " SE"]) == (2, 42.0, 2.0, None, None)
    assert "Acc seed 2" not in b
    shown = with_se(table, lambda value: f"{value:.2f}")
    assert (shown[0]["Acc"], shown[1]["Acc"], shown[1][HIT_RATE]) == ("63.00 ± 2.08", "42.00 ± 2.00", None)
    assert "Acc SE" not in shown[0] and shown[0]["Acc seed 1"] == 62.0
