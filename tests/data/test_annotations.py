"""Tests of the SeViLA-format readers: records parsed from real rows, and every bad-input message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sevila.data.annotations import (
    MomentRecord,
    QARecord,
    qa_record_from_dict,
    read_moment_annotations,
    read_qa_annotations,
)
from sevila.errors import SevilaError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _record(**changes: Any) -> dict[str, Any]:
    record = {"video": "1106/4010069381", "qid": "CH_4010069381_6", "question": "how do they play?", "num_option": 5,
              "a0": "roll.", "a1": "tap.", "a2": "strum.", "a3": "hit.", "a4": "pat.", "answer": 0}
    record.update(changes)
    return {key: value for key, value in record.items() if value is not ...}


def _write(tmp_path: Path, payload: Any, name: str = "val.json") -> Path:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(SevilaError) as caught:
        read_qa_annotations(path)
    return str(caught.value)


def test_read_qa_annotations_parses_real_star_records() -> None:
    records = read_qa_annotations(FIXTURES / "star" / "sevila_val_sample.json")
    assert records[0] == QARecord(
        qid="Interaction_T1_13", video="6H78U", question="Which object was tidied up by the person?",
        options=("The closet/cabinet.", "The blanket.", "The clothes.", "The table."), answer=2,
        start=11.1, end=19.6, qtype="Interaction",
    )
    assert [record.qtype for record in records] == ["Interaction", "Sequence", "Prediction", "Feasibility"]


def test_read_qa_annotations_accepts_vlep_records_without_question(tmp_path: Path) -> None:
    raw = {"video": "friends_s03e09_seg02_clip_07_ep", "qid": "VLEP_20142", "num_option": 2,
           "a0": "Ross will stop.", "a1": "Ross will ask.", "answer": 0, "start": 38.81, "end": 40.37}
    (record,) = read_qa_annotations(_write(tmp_path, [raw]))
    assert (record.question, record.qtype, record.options) == ("", "VLEP", ("Ross will stop.", "Ross will ask."))


def test_read_qa_annotations_accepts_times_as_numeric_strings(tmp_path: Path) -> None:
    (record,) = read_qa_annotations(_write(tmp_path, [_record(start="20.16", end="25.12")]))
    assert (record.start, record.end) == (20.16, 25.12)


def test_qa_record_to_json_round_trips() -> None:
    raw = _record(start=1.5, end=2.0)
    assert qa_record_from_dict(raw).to_json() == raw


def test_read_qa_annotations_rejects_empty_file(tmp_path: Path) -> None:
    assert "val.json: the file is empty; expected a JSON list of QA records" in _error(_write(tmp_path, "\n"))


def test_read_qa_annotations_rejects_invalid_json_naming_line_and_column(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, '[\n{"qid": "a",}\n]'))
    assert "val.json: invalid JSON at line 2 column 13" in message


def test_read_qa_annotations_rejects_a_top_level_object(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, {"records": []}))
    assert "the top-level JSON value is an object; expected a JSON list of QA records" in message


def test_read_qa_annotations_rejects_missing_field(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_record(), _record(qid="CW_1_2", video=...)]))
    expected = "val.json: record 2 (qid CW_1_2): missing field 'video'; expected the video name or relative path"
    assert message.endswith(expected)


def test_read_qa_annotations_rejects_answer_out_of_range(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_record(qid="CW_123_4", answer=7)]))
    expected = "record 1 (qid CW_123_4): 'answer' is 7 but num_option is 5; expected 0..4"
    assert message == f"{tmp_path / 'val.json'}: {expected}"


def test_read_qa_annotations_rejects_num_option_not_matching_options(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_record(a4="")]))
    assert "'num_option' is 5 but the non-empty options are a0,a1,a2,a3; expected exactly a0..a4" in message


def test_read_qa_annotations_rejects_duplicate_qid(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_record(), _record(), _record()]))
    assert "record 2 (qid CH_4010069381_6): duplicate qid, first used at record 1" in message


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("NaN", 3.0, "'start' is 'NaN'; expected a finite number"),
        (-1.0, 3.0, "'start' is -1.0; expected seconds >= 0"),
        (5.0, 3.0, "'start' 5.0 is after 'end' 3.0; expected start <= end: swap them"),
        (5.0, ..., "'start' is given but 'end' is missing"),
    ],
    ids=["nan", "negative", "inverted", "half"],
)
def test_read_qa_annotations_rejects_bad_timestamps(tmp_path: Path, start: Any, end: Any, expected: str) -> None:
    assert expected in _error(_write(tmp_path, [_record(start=start, end=end)]))


def test_read_qa_annotations_rejects_non_utf8_naming_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "val.json"
    path.write_bytes(b'[{"qid": "caf\xe9"}]')
    assert "val.json: not UTF-8 text: byte 0xe9 at byte offset 13" in _error(path)


def test_read_qa_annotations_rejects_wrong_type(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_record(answer="2")]))
    assert "'answer' is '2' (str); expected an integer" in message


def test_read_qa_annotations_rejects_unlabelled_records(tmp_path: Path) -> None:
    assert "missing field 'answer'" in _error(_write(tmp_path, [_record(answer=...)]))


def test_read_moment_annotations_reads_official_jsonl() -> None:
    records = read_moment_annotations(FIXTURES / "qvhighlights" / "highlight_val_sample.jsonl")
    assert records[1] == MomentRecord(
        qid="QVHighlight_5071", video="NUsG9BgSes0_60.0_210.0",
        query="A woman sitting in front of a desk wearing headphones and using her laptop",
        duration=150.0, windows=((118.0, 136.0),),
    )


def test_read_moment_annotations_allows_test_split_without_windows() -> None:
    records = read_moment_annotations(FIXTURES / "qvhighlights" / "highlight_test_sample.jsonl")
    assert [record.windows for record in records] == [(), ()]


def test_read_moment_annotations_reads_sevila_json_list(tmp_path: Path) -> None:
    official = read_moment_annotations(FIXTURES / "qvhighlights" / "highlight_val_sample.jsonl")
    path = _write(tmp_path, [record.to_json() for record in official], "qvh.json")
    assert read_moment_annotations(path) == official


def test_read_moment_annotations_rejects_window_past_duration(tmp_path: Path) -> None:
    raw = {"qid": 1, "vid": "v", "query": "a dog runs", "duration": 150, "relevant_windows": [[140, 152]]}
    with pytest.raises(SevilaError, match=r"line 1 \(qid 1\): 'relevant_windows\[0\]' is \[140, 152\]"):
        read_moment_annotations(_write(tmp_path, json.dumps(raw) + "\n", "qvh.jsonl"))
