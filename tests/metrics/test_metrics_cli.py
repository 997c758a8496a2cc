"""`sevila metrics` end to end on small files in each official format, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sevila.cli import main

FIXTURES = Path(__file__).parent.parent / "fixtures" / "metrics"
MATCHED = {"unmatched_predictions": 0, "missing_predictions": 0}
UNCHECKED = {"unmatched_predictions": None, "missing_predictions": None}


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["metrics", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _expect(capsys: pytest.CaptureFixture[str], expected: dict[str, object], *args: str | Path) -> None:
    code, out, err = _run(capsys, *args)
    assert (code, err) == (0, "")
    assert out == json.dumps(expected) + "\n"


def _fail(capsys: pytest.CaptureFixture[str], message: str, *args: str | Path) -> None:
    code, out, err = _run(capsys, *args)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("sevila metrics: error: ")
    assert message in err, err


def _write(path: Path, payload: object) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_cli_nextqa_official_results(capsys: pytest.CaptureFixture[str]) -> None:
    # 14 HGA predictions (right/total): CW 2/3, CH 0/2, TN 1/2 + TP 1/1 (TN column 2/3), TC 2/2,
    # DL 1/1, DC 1/2, DO 0/1. C = 2/5, T = 4/5, D = 2/4, all = 8/14 = 57.14.
    expected = {
        "Acc": 57.14, "Acc_C": 40.0, "Acc_T": 80.0, "Acc_D": 50.0,
        "Acc_CW": 66.67, "Acc_CH": 0.0, "Acc_TN": 66.67, "Acc_TC": 100.0,
        "Acc_DC": 50.0, "Acc_DL": 100.0, "Acc_DO": 0.0,
        "num_evaluated": 14, **MATCHED,
    }  # fmt: skip
    args = ("--predictions", FIXTURES / "nextqa_hga_results.json", "--annotations", FIXTURES / "nextqa_val.csv")
    _expect(capsys, expected, "nextqa", *args)


def test_cli_vlep_official_submission(capsys: pytest.CaptureFixture[str]) -> None:
    # The first 20 dev examples: 11 predictions equal the answer -> 55.0.
    args = ("--predictions", FIXTURES / "vlep_dev_submission.jsonl", "--annotations", FIXTURES / "vlep_dev.jsonl")
    _expect(capsys, {"Acc": 55.0, "Acc_VLEP": 55.0, "num_evaluated": 20, **MATCHED}, "vlep", *args)


def test_cli_qvhighlights_moment_detr_submission(capsys: pytest.CaptureFixture[str]) -> None:
    # Expected values from an independent numpy restatement of the official protocol on these 50 queries.
    expected = {
        "MR-full-R1@0.5": 46.0, "MR-full-R1@0.7": 34.0, "MR-full-mAP": 30.59,
        "MR-full-mAP@0.5": 53.04, "MR-full-mAP@0.75": 29.84, "num_evaluated": 50, **MATCHED,
    }  # fmt: skip
    preds, annotations = FIXTURES / "qvhighlights_moment_detr_preds.jsonl", FIXTURES / "qvhighlights_val.jsonl"
    _expect(capsys, expected, "qvhighlights", "--predictions", preds, "--annotations", annotations)


def _star_predictions(tmp_path: Path) -> Path:
    # star_val.json answers: Interaction 2, 2; Sequence 0, 0; Prediction 2, 2; Feasibility 1, 2.
    guesses = {"Interaction_T1_13": 2, "Interaction_T1_14": 2, "Sequence_T1_5": 0, "Sequence_T1_6": 3,
               "Prediction_T1_9": 1, "Prediction_T1_24": 0, "Feasibility_T2_10": 1, "Feasibility_T2_13": 0}  # fmt: skip
    answers = json.loads((FIXTURES / "star_val.json").read_text())
    rows = [
        {"qid": r["qid"], "prediction": guesses[r["qid"]], "target": r["answer"], "frame_idx": [3, 9, 17, 30]}
        for r in answers
    ]
    return _write(tmp_path / "star_preds.json", rows)


def test_cli_star_our_predictions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Right: Interaction 2/2 = 100, Sequence 1/2 = 50, Prediction 0/2 = 0, Feasibility 1/2 = 50.
    # Mean = 200 / 4 = 50.0; pooled Acc = 4/8 = 50.0.
    expected = {
        "Mean": 50.0, "Acc": 50.0, "Acc_Interaction": 100.0, "Acc_Sequence": 50.0,
        "Acc_Prediction": 0.0, "Acc_Feasibility": 50.0, "num_evaluated": 8,
    }  # fmt: skip
    preds = _star_predictions(tmp_path)
    annotations = FIXTURES / "star_val.json"
    _expect(capsys, {**expected, **MATCHED}, "star", "--predictions", preds, "--annotations", annotations)
    _expect(capsys, {**expected, **UNCHECKED}, "star", "--predictions", preds)


def test_cli_tvqa_without_annotations(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # 2 of 3 right -> 66.67.
    rows = [{"qid": f"TVQA_{i}", "prediction": p, "target": 4} for i, p in enumerate([4, 4, 0])]
    preds = _write(tmp_path / "tvqa.json", rows)
    _expect(capsys, {"Acc": 66.67, "Acc_TVQA": 66.67, "num_evaluated": 3, **UNCHECKED}, "tvqa", "--predictions", preds)


def test_cli_allow_unmatched_scores_shared_qids(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # One known qid (right) plus one unknown; the annotations have a second qid without prediction.
    preds = _write(tmp_path / "p.json", [{"qid": f"HOW2QA_{i}", "prediction": 0, "target": 0} for i in (1, 9)])
    annotations = _write(tmp_path / "a.json", [{"qid": "HOW2QA_1", "answer": 0}, {"qid": "HOW2QA_2", "answer": 1}])
    expected = {
        "Acc": 100.0, "Acc_HOW2QA": 100.0, "num_evaluated": 1, "unmatched_predictions": 1, "missing_predictions": 1
    }  # fmt: skip
    _expect(capsys, expected, "how2qa", "--predictions", preds, "--annotations", annotations, "--allow-unmatched")
    _fail(capsys, "qid 'HOW2QA_9' is not in", "how2qa", "--predictions", preds, "--annotations", annotations)


def test_cli_missing_prediction_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = (FIXTURES / "vlep_dev_submission.jsonl").read_text().splitlines()[1:]
    preds = tmp_path / "sub.jsonl"
    preds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ("vlep", "--predictions", preds, "--annotations", FIXTURES / "vlep_dev.jsonl")
    _fail(capsys, "no prediction for qid 'VLEP_20142'", *args)


def test_cli_answer_disagreement_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    preds = _write(tmp_path / "p.json", [{"qid": "HOW2QA_1", "prediction": 0, "target": 3}])
    annotations = _write(tmp_path / "a.json", [{"qid": "HOW2QA_1", "answer": 1}])
    args = ("how2qa", "--predictions", preds, "--annotations", annotations)
    _fail(capsys, "qid 'HOW2QA_1': the answer is 3 here but 1 in", *args)


def test_cli_option_out_of_range_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    preds = _write(tmp_path / "p.json", [{"qid": "VLEP_1", "prediction": 2, "target": 1}])
    _fail(capsys, "prediction 2 / answer 1 is outside 0..1 (vlep has 2 options", "vlep", "--predictions", preds)


def test_cli_nextqa_results_need_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    preds = FIXTURES / "nextqa_hga_results.json"
    _fail(capsys, "is not a NExT-QA type", "nextqa", "--predictions", preds)
    _fail(capsys, "pass --annotations", "nextqa", "--predictions", preds)


def test_cli_vlep_submission_needs_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    _fail(capsys, "carries no answers", "vlep", "--predictions", FIXTURES / "vlep_dev_submission.jsonl")


def test_cli_qvhighlights_needs_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    preds = FIXTURES / "qvhighlights_moment_detr_preds.jsonl"
    _fail(capsys, "qvhighlights needs --annotations", "qvhighlights", "--predictions", preds)


def test_cli_malformed_file_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    preds = tmp_path / "broken.json"
    preds.write_text('[{"qid": "TVQA_1", ', encoding="utf-8")
    _fail(capsys, "broken.json: invalid JSON at line 1 column 20: Expecting", "tvqa", "--predictions", preds)


def test_cli_wrong_dataset_files_fail(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--predictions", FIXTURES / "nextqa_hga_results.json", "--annotations", FIXTURES / "star_val.json")
    _fail(capsys, "qid '4010069381_6' is not in", "star", *args)


def test_metrics_cli_exports_nextqa_results_in_the_official_format(tmp_path, capsys):
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps([
        {"qid": "CW_1150/6233408665_8", "prediction": 2, "target": 2, "frame_idx": [1, 2, 3, 4]},
        {"qid": "TN_1150/6233408665_9", "prediction": 0, "target": 1, "frame_idx": [1, 2, 3, 4]},
    ]))
    export = tmp_path / "results.json"
    assert main(["metrics", "nextqa", "--predictions", str(predictions), "--export", str(export)]) == 0
    assert json.loads(export.read_text()) == {
        "1150/6233408665_8": {"prediction": 2, "answer": 2},
        "1150/6233408665_9": {"prediction": 0, "answer": 1},
    }
    assert json.loads(capsys.readouterr().out)["Acc"] == 50.0


def test_metrics_cli_export_refuses_datasets_without_a_submission_format(tmp_path, capsys):
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps([{"qid": "Interaction_T1_1", "prediction": 0, "target": 0, "frame_idx": [0]}]))
    code = main(["metrics", "star", "--predictions", str(predictions), "--export", str(tmp_path / "x.json")])
    assert code == 2
    assert "no official submission format" in capsys.readouterr().err
