"""Readers of NExT-GQA ground truth, predicted windows and answers: keys, formats and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sevila.errors import SevilaError
from sevila.metrics.grounding_formats import question_key, read_answers, read_predictions, read_truth_windows

GSUB = Path(__file__).resolve().parents[1] / "fixtures" / "nextgqa" / "gsub_val_sample.json"


def _write(tmp_path: Path, payload: object, name: str = "file.json") -> Path:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return path


def test_question_key_drops_the_type_prefix() -> None:
    assert question_key("f", "here", "CW_4882821564_1") == "4882821564_1"
    assert question_key("f", "here", "4882821564_1") == "4882821564_1"


def test_question_key_rejects_other_qids() -> None:
    with pytest.raises(SevilaError, match=r"f: record 3: qid 'TVQA_1_2_3' names no NExT-GQA question; expected"):
        question_key("f", "record 3", "TVQA_1_2_3")


def test_gsub_truth_keys_in_file_order_with_every_window() -> None:
    truths = read_truth_windows(GSUB)
    assert list(truths)[:4] == ["11584566583_3", "11584566583_4", "11584566583_1", "2482028659_2"]
    assert truths["7533369046_6"] == ((26.9, 30.2), (31.1, 32.2), (32.7, 33.0))
    assert len(truths) == 11  # 2830899473 has no questions


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"duration": 9, "location": {"1": [[5.0, 2.0]]}}, "question '1': window 0 is [5.0, 2.0], which ends before"),
        ({"duration": 9, "location": {"1": []}}, "question '1': windows []; expected a non-empty list"),
        ({"duration": 9, "location": {"1": [[1.0, "2"]]}}, "question '1': window 0 is [1.0, '2']; expected [start"),
        ({"location": {"1": [[1.0, 2.0]]}}, "'duration' is None; expected the video length in seconds"),
        ({"duration": 9, "location": [[1.0, 2.0]]}, "expected an object with 'duration' and a 'location' object"),
    ],
)
def test_gsub_bad_entry_names_the_video_and_question(tmp_path: Path, entry: object, message: str) -> None:
    path = _write(tmp_path, {"123": entry})
    with pytest.raises(SevilaError, match=f"{path}: video '123': ") as error:
        read_truth_windows(path)
    assert message in str(error.value)


def test_repeated_key_is_an_error_not_the_last_one_wins(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"1_2": [1.0, 2.0], "1_2": [3.0, 4.0]}')
    with pytest.raises(SevilaError, match=r"key '1_2' appears twice in one object"):
        read_predictions(path)


def test_official_windows_keep_their_keys_and_numbers(tmp_path: Path) -> None:
    windows, correct = read_predictions(_write(tmp_path, {"1_2": [1, 2.5, 3.0], "CW_1_3": [4.0]}))
    assert (windows, correct) == ({"1_2": (1.0, 2.5, 3.0), "CW_1_3": (4.0,)}, None)


@pytest.mark.parametrize("value", [[], "1-2", [1.0, None], [True, 2.0], [1.0, float("nan")], {"start": 1}])
def test_bad_window_names_file_and_key(tmp_path: Path, value: object) -> None:
    path = _write(tmp_path, {"1_2": value})
    with pytest.raises(SevilaError, match=rf"{path}: key '1_2': the window is .*; expected \[start, end\] in seconds"):
        read_predictions(path)


def test_our_rows_give_windows_and_answers_and_rows_without_window_are_missing(tmp_path: Path) -> None:
    rows = [{"qid": "CW_1_2", "prediction": 1, "target": 1, "frame_idx": [0], "window": [1.0, 2.0]},
            {"qid": "TN_1_3", "prediction": 0, "target": 1, "frame_idx": [0], "window": None},
            {"qid": "TC_1_4", "prediction": 0, "target": 1, "frame_idx": [0]}]  # fmt: skip
    windows, correct = read_predictions(_write(tmp_path, rows))
    assert (windows, correct) == ({"1_2": (1.0, 2.0)}, {"1_2": True, "1_3": False, "1_4": False})


def test_our_rows_without_any_window_are_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"qid": "CW_1_2", "prediction": 1, "target": 1, "frame_idx": [0]}])
    with pytest.raises(SevilaError, match=rf"{path}: no record has a 'window' .*predates windows"):
        read_predictions(path)


def test_our_rows_naming_one_question_twice_are_an_error(tmp_path: Path) -> None:
    rows = [{"qid": qid, "prediction": 1, "target": 1, "window": [1.0, 2.0]} for qid in ("CW_1_2", "TC_1_2")]
    path = _write(tmp_path, rows)
    with pytest.raises(SevilaError, match=rf"{path}: record 1 \(qid TC_1_2\): a second entry for question '1_2'"):
        read_predictions(path)


def test_empty_predictions_are_an_error(tmp_path: Path) -> None:
    for payload in ({}, []):
        with pytest.raises(SevilaError, match="no predictions in the file|empty or not"):
            read_predictions(_write(tmp_path, payload))


def test_official_answers_compare_prediction_with_answer(tmp_path: Path) -> None:
    path = _write(tmp_path, {"1_2": {"prediction": 3, "answer": 3}, "1_3": {"prediction": 0, "answer": 4}})
    assert read_answers(path) == {"1_2": True, "1_3": False}


def test_records_without_windows_are_not_nextgqa_truth(tmp_path: Path) -> None:
    record = {"video": "1/2", "qid": "CW_2_1", "question": "why?", "num_option": 2, "a0": "x", "a1": "y", "answer": 0}
    path = _write(tmp_path, [record])
    with pytest.raises(SevilaError, match=rf"{path}: record 1 \(qid CW_2_1\): no 'windows'"):
        read_truth_windows(path)
