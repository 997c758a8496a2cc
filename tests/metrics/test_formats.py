"""Readers of the official/our prediction and annotation formats, and the submission writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sevila.errors import SevilaError
from sevila.metrics import (
    Prediction,
    QARow,
    read_moment_annotations,
    read_moment_predictions,
    read_qa_annotations,
    read_qa_predictions,
    write_moment_submission,
    write_nextqa_results,
    write_vlep_submission,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "metrics"


def _write(path: Path, payload: object) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_read_nextqa_results_keeps_official_keys() -> None:
    predictions = read_qa_predictions(FIXTURES / "nextqa_hga_results.json")
    assert len(predictions) == 14
    assert predictions["4010069381_6"] == Prediction(prediction=4, target=0)


def test_read_nextqa_csv_builds_typed_qids() -> None:
    answers = read_qa_annotations(FIXTURES / "nextqa_val.csv")
    assert len(answers) == 14
    assert answers["CH_4010069381_6"] == 0
    assert answers["TP_6329077812_7"] == 4


def test_read_vlep_files_use_vlep_qids() -> None:
    predictions = read_qa_predictions(FIXTURES / "vlep_dev_submission.jsonl")
    answers = read_qa_annotations(FIXTURES / "vlep_dev.jsonl")  # no final newline, as released
    assert predictions["VLEP_20147"] == Prediction(prediction=1, target=None)
    assert answers["VLEP_20147"] == 0
    assert set(predictions) == set(answers)


def test_read_our_predictions_and_sevila_annotations(tmp_path: Path) -> None:
    ours = [{"qid": "TVQA_1", "prediction": 3, "target": 2, "frame_idx": [0, 5, 9, 30]}]
    assert read_qa_predictions(_write(tmp_path / "p.json", ours)) == {"TVQA_1": Prediction(3, 2)}
    assert read_qa_annotations(FIXTURES / "star_val.json")["Interaction_T1_13"] == 2


def test_read_moment_files() -> None:
    predictions = read_moment_predictions(FIXTURES / "qvhighlights_moment_detr_preds.jsonl")
    annotations = read_moment_annotations(FIXTURES / "qvhighlights_val.jsonl")
    assert len(predictions) == len(annotations) == 50
    assert predictions["2579"][0] == (0.0, 70.0, 0.9986)
    assert annotations["2579"] == [(82.0, 150.0)]


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("p.json", [{"qid": "TVQA_1", "prediction": 1}], r"p\.json: record 0 \(qid TVQA_1\): missing field 'target'"),
        ("p.json", [{"qid": "TVQA_1", "prediction": "B", "target": 1}], r"'prediction' is 'B', expected an integer"),
        ("p.json", [{"qid": "A_1", "prediction": 1, "target": 1}] * 2, r"record 1 \(qid A_1\): duplicate id 'A_1'"),
        ("p.json", {"123_4": {"prediction": 1}}, r"entry '123_4': missing field 'answer'"),
        ("p.json", [], r"no predictions"),
        ("p.txt", [], r"unknown file type '\.txt'"),
    ],
)
def test_read_qa_predictions_names_file_and_record(tmp_path: Path, name: str, payload: object, message: str) -> None:
    with pytest.raises(SevilaError, match=message):
        read_qa_predictions(_write(tmp_path / name, payload))


def test_read_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "sub.jsonl"
    path.write_text('{"example_id": 1, "pred_ans": 0}\n{"example_id": 2,\n', encoding="utf-8")
    with pytest.raises(SevilaError, match=r"sub\.jsonl: line 2: invalid JSON at column 18: Expecting property name"):
        read_qa_predictions(path)


def test_read_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_qa_predictions(tmp_path / "absent.json")


def test_read_nextqa_csv_requires_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "val.csv"
    path.write_text("video,qid,answer\n1,2,3\n", encoding="utf-8")
    with pytest.raises(SevilaError, match=r"val.csv: line 1: the header video,qid,answer lacks the column\(s\) type"):
        read_qa_annotations(path)


def test_read_moment_predictions_require_sorted_scores(tmp_path: Path) -> None:
    path = tmp_path / "preds.jsonl"
    record = {"qid": 7, "pred_relevant_windows": [[0, 2, 0.1], [4, 6, 0.9]]}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(SevilaError, match=r"line 1 \(qid 7\): 'pred_relevant_windows' must be sorted"):
        read_moment_predictions(path)


def test_read_moment_predictions_reject_bad_window(tmp_path: Path) -> None:
    path = tmp_path / "preds.jsonl"
    path.write_text(json.dumps({"qid": 7, "pred_relevant_windows": [[6, 2, 0.1]]}) + "\n", encoding="utf-8")
    with pytest.raises(SevilaError, match=r"window \[6, 2, 0\.1\] ends before it starts"):
        read_moment_predictions(path)


def test_read_moment_annotations_reject_test_split(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps({"qid": 9, "query": "a dog", "duration": 150, "vid": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(SevilaError, match=r"line 1 \(qid 9\): no 'relevant_windows' \(the test split"):
        read_moment_annotations(path)


def test_nextqa_results_round_trip(tmp_path: Path) -> None:
    write_nextqa_results(tmp_path / "r.json", [QARow("CW_123_4", 2, 1), QARow("TP_123_5", 0, 0)])
    assert read_qa_predictions(tmp_path / "r.json") == {"123_4": Prediction(2, 1), "123_5": Prediction(0, 0)}


def test_write_nextqa_results_rejects_foreign_qid(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a NExT-QA qid"):
        write_nextqa_results(tmp_path / "r.json", [QARow("TVQA_12", 0, 0)])
    assert not (tmp_path / "r.json").exists()


def test_vlep_submission_round_trip(tmp_path: Path) -> None:
    write_vlep_submission(tmp_path / "s.jsonl", [QARow("VLEP_20142", 1, 0)])
    assert (tmp_path / "s.jsonl").read_text() == '{"example_id": 20142, "pred_ans": 1}\n'
    assert read_qa_predictions(tmp_path / "s.jsonl") == {"VLEP_20142": Prediction(1, None)}


def test_moment_submission_is_sorted_by_score(tmp_path: Path) -> None:
    write_moment_submission(tmp_path / "m.jsonl", {"QVHighlight_2579": [[0, 2, 0.1], [4, 6, 0.9]]})
    line = json.loads((tmp_path / "m.jsonl").read_text())
    assert line == {"qid": 2579, "pred_relevant_windows": [[4.0, 6.0, 0.9], [0.0, 2.0, 0.1]]}
    assert read_moment_predictions(tmp_path / "m.jsonl") == {"2579": [(4.0, 6.0, 0.9), (0.0, 2.0, 0.1)]}


def test_write_moment_submission_rejects_unscored_window(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"not \[start, end, score\]"):
        write_moment_submission(tmp_path / "m.jsonl", {"QVHighlight_1": [[0, 2]]})
