"""`sevila metrics nextgqa` end to end on real NExT-GQA annotations with hand-made predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sevila.cli import main
from sevila.data.converters import convert
from sevila.data.video_paths import load_video_map
from sevila.io import write_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nextgqa"
GSUB = FIXTURES / "gsub_val_sample.json"
TYPES = {"11584566583_3": "CH", "11584566583_4": "TC", "11584566583_1": "TC", "2482028659_2": "CW",
         "2482028659_5": "CW", "2482028659_6": "CW", "2482028659_7": "CW", "7533369046_1": "CW",
         "7533369046_2": "TN", "7533369046_4": "TC", "7533369046_6": "TC"}  # fmt: skip
# The 11 questions of gsub_val_sample.json (windows in seconds) and the prediction of each, by hand:
#   11584566583_3 [6.7, 7.8]            P [6.7, 7.8] exact          IoU 1      IoP 1      right
#   11584566583_4 [8.9, 10.2]           P [8, 9, 10, 12] -> [8, 12] I 1.3: 1.3/4 = .325 for both  wrong
#   11584566583_1 [4.5, 12.6]           P [6, 6] a point inside     IoU 0      IoP 1      right
#   2482028659_2  [0, 6.1], [9.2, 21.5] P [5, 10] spans both: A: I 1.1, hull 10 -> IoU .11, IoP 1.1/5 = .22;
#                                       B: I .8 -> IoU .8/16.5, IoP .16; best .11 and .22 (merged: 1.9/5)  right
#   2482028659_5  [0, 6.1], [8.9, 21.5] P [12, 22] past the 21 s end: B: I 9.5, hull 13.1 -> IoU 9.5/13.1
#                                       = .7251908, IoP 9.5/10 = .95                                     right
#   2482028659_6  [8.1, 8.3]            P [9, 8] reversed           IoU 0      IoP 0      right
#   2482028659_7  [0, 6.1], [8, 21]     no window: not in the grounding metrics       right
#   7533369046_1  [0, 6.6], [9.8, 22.9] P [7, 9] in the gap         IoU 0      IoP 0      wrong
#   7533369046_2  [22.9, 24.6]          P [22, 26]: I 1.7, hull 4   IoU .425   IoP .425   right
#   7533369046_4  [9.3, 9.7]            P [9.5] one number: a point inside  IoU 0  IoP 1  wrong
#   7533369046_6  [26.9, 30.2], [31.1, 32.2], [32.7, 33]  P [30, 32]: A: I .2 -> IoU .2/5.1, IoP .1;
#                                       B: I .9, hull 2.2 -> IoU .4090909, IoP .45; C disjoint          right
# plus a window and an answer for 2830899473_0, a video whose gsub entry has no questions (unmatched).
WINDOWS = {"11584566583_3": [6.7, 7.8], "11584566583_4": [8.0, 9.0, 10.0, 12.0], "11584566583_1": [6.0, 6.0],
           "2482028659_2": [5.0, 10.0], "2482028659_5": [12.0, 22.0], "2482028659_6": [9.0, 8.0],
           "7533369046_1": [7.0, 9.0], "7533369046_2": [22.0, 26.0], "7533369046_4": [9.5],
           "7533369046_6": [30.0, 32.0], "2830899473_0": [1.0, 2.0]}  # fmt: skip
WRONG = {"11584566583_4", "7533369046_1", "7533369046_4"}
ANSWERS = {key: {"prediction": 2, "answer": 3 if key in WRONG else 2} for key in [*TYPES, "2830899473_0"]}
# N = 10 questions with a window.
# IoP: 1 + .325 + 1 + .22 + .95 + 0 + 0 + .425 + 1 + .45 = 5.37 -> mIoP 53.7; >= .3: 7 -> 70.0; >= .5: 4 -> 40.0
# IoU: 1 + .325 + 0 + .11 + .7251908 + 0 + 0 + .425 + 0 + .4090909 = 2.9942817 -> mIoU 29.9;
#      >= .3: 5 (1, .325, .725, .425, .409) -> 50.0; >= .5: 2 -> 20.0
# Acc@QA: 8 right of the 11 questions -> 72.73; Acc@GQA: right with IoP >= .5: _3, _1, _5 (not 7533369046_4,
# wrong) -> 3 / 10 = 30.0. The official eval_ground.py prints 30.0 53.7 70.0 40.0 29.9 50.0 20.0 on these.
EXPECTED = {"Acc@QA": 72.73, "Acc@GQA": 30.0, "mIoP": 53.7, "IoP@0.3": 70.0, "IoP@0.5": 40.0, "mIoU": 29.9,
            "IoU@0.3": 50.0, "IoU@0.5": 20.0, "num_questions": 11, "num_evaluated": 10, "missing_predictions": 1,
            "unmatched_predictions": 1, "num_answered": 11, "missing_answers": 0, "unmatched_answers": 1}  # fmt: skip


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["metrics", "nextgqa", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _fail(capsys: pytest.CaptureFixture[str], message: str, *args: str | Path) -> None:
    code, out, err = _run(capsys, *args)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("sevila metrics: error: "), err
    assert message in err, err


def _official(tmp_path: Path, windows: object = WINDOWS, answers: object = ANSWERS) -> tuple[Path, Path]:
    write_json(tmp_path / "val_ground.json", windows)
    write_json(tmp_path / "val-res.json", answers)
    return tmp_path / "val_ground.json", tmp_path / "val-res.json"


def _ours(tmp_path: Path) -> Path:
    rows = [{"qid": f"{TYPES.get(key, 'CW')}_{key}", "prediction": entry["prediction"], "target": entry["answer"],
             "frame_idx": [0, 1, 2, 3], **({"window": WINDOWS[key]} if key in WINDOWS else {})}
            for key, entry in ANSWERS.items()]  # fmt: skip
    write_json(tmp_path / "predictions.json", rows)
    return tmp_path / "predictions.json"


def test_cli_real_sample_official_files_give_the_hand_computed_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    windows, answers = _official(tmp_path)
    code, out, err = _run(capsys, "--predictions", windows, "--answers", answers, "--annotations", GSUB)
    assert (code, err) == (0, "")
    assert out == json.dumps(EXPECTED) + "\n"


def test_cli_our_predictions_hold_windows_and_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--predictions", _ours(tmp_path), "--annotations", GSUB)
    assert (code, err, json.loads(out)) == (0, "", EXPECTED)


def test_cli_prepared_records_score_like_gsub(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video_map = load_video_map(FIXTURES / "map_vid_vidorID_sample.json")
    records = convert("nextgqa", FIXTURES / "val_sample.csv", video_map=video_map, grounding=GSUB)
    write_json(tmp_path / "val.json", records.to_json())
    code, out, err = _run(capsys, "--predictions", _ours(tmp_path), "--annotations", tmp_path / "val.json")
    assert (code, err, json.loads(out)) == (0, "", EXPECTED)


def test_cli_without_answers_reports_grounding_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    windows, _ = _official(tmp_path)
    code, out, _ = _run(capsys, "--predictions", windows, "--annotations", GSUB)
    report = json.loads(out)
    assert (code, report["Acc@QA"], report["Acc@GQA"], report["mIoP"], report["missing_answers"]) == (
        0, None, None, 53.7, None)  # fmt: skip


def test_cli_unanswered_question_fails_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = {key: value for key, value in ANSWERS.items() if key != "2482028659_7"}
    windows, answers_path = _official(tmp_path, answers=answers)
    args = ("--predictions", windows, "--answers", answers_path, "--annotations", GSUB)
    _fail(capsys, f"{answers_path}: no answer for question '2482028659_7' of {GSUB} (1 of 11 unanswered)", *args)
    code, out, _ = _run(capsys, *args, "--allow-unmatched")
    report = json.loads(out)
    # 2482028659_7 was right: 7 right of the 10 answered; its missing window kept it out of Acc@GQA anyway
    assert (code, report["Acc@QA"], report["Acc@GQA"], report["num_answered"], report["missing_answers"]) == (
        0, 70.0, 30.0, 10, 1)  # fmt: skip


def test_cli_answers_twice_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, answers = _official(tmp_path)
    ours = _ours(tmp_path)
    _fail(capsys, f"--answers: {ours} already holds the answers; drop --answers",
          "--predictions", ours, "--answers", answers, "--annotations", GSUB)  # fmt: skip


def test_cli_no_window_of_the_split_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    windows, _ = _official(tmp_path, windows={"4882821564_1": [1.0, 2.0]})
    _fail(capsys, f"{windows}: none of its 1 windows is for a question of {GSUB}; check the split",
          "--predictions", windows, "--annotations", GSUB)  # fmt: skip


def test_cli_bad_window_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    windows, _ = _official(tmp_path, windows={**WINDOWS, "7533369046_2": "22-26"})
    _fail(capsys, f"{windows}: key '7533369046_2': the window is '22-26'; expected [start, end] in seconds",
          "--predictions", windows, "--annotations", GSUB)  # fmt: skip


def test_cli_bad_answer_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    windows, answers = _official(tmp_path, answers={**ANSWERS, "7533369046_2": {"prediction": "b", "answer": 1}})
    _fail(capsys, f"{answers}: entry '7533369046_2': 'prediction' is 'b', expected an integer",
          "--predictions", windows, "--answers", answers, "--annotations", GSUB)  # fmt: skip


def test_cli_missing_required_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["metrics", "nextgqa", "--annotations", str(GSUB)])
    assert exit_info.value.code == 2
    assert "--predictions" in capsys.readouterr().err
