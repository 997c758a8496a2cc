"""The custom dataset's questions files: the documented schema, splits, and one clear line per mistake."""

from __future__ import annotations

import json

import pytest

from sevila.data.custom import assign_splits, read_custom_questions
from sevila.data.video_paths import video_path
from sevila.errors import SevilaError

HEADER = "video,question,options,answer,start,end,qid,split,type\n"


def _csv(tmp_path, *rows: str, header: str = HEADER):
    path = tmp_path / "questions.csv"
    path.write_text(header + "".join(row + "\n" for row in rows))
    return path


def test_custom_csv_rows_become_records(tmp_path):
    path = _csv(tmp_path, "kitchen/a.mp4,what is on the table,cup | plate|bowl,plate,1.5,4,q7,train,what",
                "b.mkv,is it raining,yes|no,no,,,,val,")
    first, second = read_custom_questions(path)
    assert first.record.qid == "what_q7" and first.qid == "q7" and first.split == "train"
    assert first.record.options == ("cup", "plate", "bowl") and first.record.answer == 1
    assert (first.record.start, first.record.end) == (1.5, 4.0) and first.record.video == "kitchen/a.mp4"
    assert second.record.qid == "custom_3" and second.qid == "3"  # line 3 of the file
    assert (second.record.start, second.record.end) == (None, None) and second.record.answer == 1


def test_custom_jsonl_takes_option_lists_and_index_answers(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [{"video": "a.mp4", "question": "q", "options": ["x", "y", "z"], "answer": 2},
            {"video": "a.mp4", "question": "q", "options": ["x", "y"], "answer": "x", "qid": "k"}]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    assert [(q.qid, q.record.answer) for q in read_custom_questions(path)] == [("1", 2), ("k", 0)]


def test_custom_video_paths_keep_their_extension(tmp_path):
    assert video_path("custom", tmp_path, "kitchen/a.MOV") == tmp_path / "kitchen" / "a.MOV"
    with pytest.raises(SevilaError, match="would resolve outside the video folder"):
        video_path("custom", tmp_path, "../secret.mp4")


@pytest.mark.parametrize(("row", "message"), [
    ("a.mp4,q,red|blue,green,,,,,", r"line 2: 'answer' is 'green'; expected the text of one option \('red', 'blue'\)"),
    ("a.mp4,q,red,red,,,,,", r"line 2: 'num_option' is 1; expected 2\.\.5"),
    ("a.mp4,q,a|b|c|d|e|f,a,,,,,", r"line 2: 'num_option' is 6; expected 2\.\.5"),
    ("a.mp4,,red|blue,red,,,,,", r"line 2: missing field 'question'"),
    ("a.mp4,q,red|blue,red,3,,,,", r"line 2: 'start' is given but 'end' is missing"),
    ("a.mp4,q,red|blue,red,,,,dev,", r"line 2: 'split' is 'dev'; expected one of train, val, test"),
    ("a.mp4,q,red|blue,red,,,,,why_not", r"line 2: 'type' is 'why_not'; expected a type name without '_'"),
])
def test_custom_row_mistakes_name_the_line_and_field(tmp_path, row, message):
    with pytest.raises(SevilaError, match=rf"questions\.csv: {message}"):
        read_custom_questions(_csv(tmp_path, row))


def test_custom_file_mistakes_are_one_line(tmp_path):
    with pytest.raises(SevilaError, match=r"line 1: the header video,question,answer lacks the column\(s\) options"):
        read_custom_questions(_csv(tmp_path, "a.mp4,q,red", header="video,question,answer\n"))
    with pytest.raises(SevilaError, match=r"unknown field\(s\) colour"):
        read_custom_questions(_csv(tmp_path, "a.mp4,q,a|b,a,x", header="video,question,options,answer,colour\n"))
    with pytest.raises(SevilaError, match=r"line 3 \(qid k\): duplicate qid, first used at line 2"):
        read_custom_questions(_csv(tmp_path, "a.mp4,q,a|b,a,,,k,,", "b.mp4,q,a|b,a,,,k,,"))
    (tmp_path / "q.xlsx").write_text("x")
    with pytest.raises(SevilaError, match=r"q\.xlsx: expected a \.csv or \.jsonl file"):
        read_custom_questions(tmp_path / "q.xlsx")
    with pytest.raises(SevilaError, match=r"line 2: missing field 'answer'; training and evaluation need"):
        read_custom_questions(_csv(tmp_path, "a.mp4,q,a|b,,,,,,"))
    assert read_custom_questions(_csv(tmp_path, "a.mp4,q,a|b,,,,,,"), need_answer=False)[0].has_answer is False


def test_custom_splits_from_the_column_with_val_as_test(tmp_path):
    questions = read_custom_questions(_csv(tmp_path, "a.mp4,q,a|b,a,,,1,train,", "b.mp4,q,a|b,a,,,2,val,"))
    splits = assign_splits(questions, 0.2, "f")
    assert {name: [r.qid for r in rows] for name, rows in splits.items()} == {
        "train": ["custom_1"], "val": ["custom_2"], "test": ["custom_2"]}
    mixed = read_custom_questions(_csv(tmp_path, "a.mp4,q,a|b,a,,,1,train,", "b.mp4,q,a|b,a,,,2,,"))
    with pytest.raises(SevilaError, match="f: qid 2 has no 'split' but other rows have one"):
        assign_splits(mixed, 0.2, "f")


def test_custom_splits_hold_out_whole_videos_by_a_stable_rule(tmp_path):
    rows = [f"v{v}.mp4,q,a|b,a,,,{v}{q},," for v in range(10) for q in range(3)]
    splits = assign_splits(read_custom_questions(_csv(tmp_path, *rows)), 0.2, "f")
    val_videos = {r.video for r in splits["val"]}
    assert len(val_videos) == 2 and len(splits["val"]) == 6 and len(splits["train"]) == 24
    assert not val_videos & {r.video for r in splits["train"]} and splits["test"] == splits["val"]
    again = assign_splits(read_custom_questions(_csv(tmp_path, *reversed(rows))), 0.2, "f")
    assert {r.video for r in again["val"]} == val_videos  # the rule depends on the names, not the row order
