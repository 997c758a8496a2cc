"""NExT-GQA conversion on real rows (records worked out by hand), bad rows, and the QA reader's `windows` field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sevila.data.annotations import QARecord, RecordError, qa_record_from_dict, read_qa_annotations
from sevila.data.converters import convert
from sevila.data.nextgqa import read_gsub
from sevila.data.video_paths import load_video_map
from sevila.errors import SevilaError
from sevila.io import write_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nextgqa"
VIDEO_MAP = load_video_map(FIXTURES / "map_vid_vidorID_sample.json")
VAL_CSV, VAL_GSUB = FIXTURES / "val_sample.csv", FIXTURES / "gsub_val_sample.json"
TEST_CSV, TEST_GSUB = FIXTURES / "test_sample.csv", FIXTURES / "gsub_test_sample.json"
RECORD = {"video": "1018/2482028659", "qid": "CW_2482028659_5", "question": "why?", "num_option": 2,
          "a0": "x.", "a1": "y.", "answer": 1, "duration": 21.0, "windows": [[0.0, 6.1], [8.9, 21.5]]}  # fmt: skip


def _val() -> list[Any]:
    return convert("nextgqa", VAL_CSV, video_map=VIDEO_MAP, grounding=VAL_GSUB).records


def _csv(tmp_path: Path, line: int, column: int, value: str) -> Path:
    lines = VAL_CSV.read_text(encoding="utf-8").splitlines()
    fields = lines[line].split(",")
    fields[column] = value
    path = tmp_path / "val.csv"
    path.write_text("\n".join([lines[0], ",".join(fields)]) + "\n", encoding="utf-8")
    return path


def test_convert_real_row_with_three_windows_matches_hand_computed_record() -> None:
    # val.csv line 45: answer text "pulling the box" is a3; gsub gives 3 windows, one ending on the integer 33
    assert _val()[0] == QARecord(
        qid="TC_7533369046_6", video="1007/7533369046", question="what was the baby doing to the white box?",
        options=("drop it.", "sitting on the box.", "hitting the box.", "pulling the box.", "carry it to the side."),
        answer=3, start=None, end=None, qtype="TC",
        windows=((26.9, 30.2), (31.1, 32.2), (32.7, 33.0)), duration=33.0,
    )  # fmt: skip


def test_convert_keeps_a_window_past_the_rounded_duration_as_published() -> None:
    # val.csv line 715: 2482028659 lasts 643 frames / 29.97 fps = 21.45 s, gsub says 21 and a window ends at 21.5
    record = _val()[2]
    assert (record.qid, record.answer, record.duration, record.windows) == (
        "CW_2482028659_5", 1, 21.0, ((0.0, 6.1), (8.9, 21.5)))  # fmt: skip


def test_convert_gives_typed_qids_for_every_row_tp_included() -> None:
    assert [record.qid for record in _val()] == [
        "TC_7533369046_6", "CH_11584566583_3", "CW_2482028659_5", "CW_2482028659_6", "TC_7533369046_4",
        "CW_7533369046_1", "CW_2482028659_7", "CW_2482028659_2", "TC_11584566583_1", "TN_7533369046_2",
        "TP_11584566583_4",
    ]  # fmt: skip


def test_converted_records_round_trip_through_the_reader(tmp_path: Path) -> None:
    records = _val()
    write_json(tmp_path / "val.json", [record.to_json() for record in records])
    assert read_qa_annotations(tmp_path / "val.json") == records


def test_convert_ambiguous_answer_text_is_an_error_naming_both_options() -> None:
    # test.csv line 3086 (3842638015, qid 4): "happy" is both a3 and a4
    with pytest.raises(SevilaError, match=rf"{TEST_CSV}: line 3: 'answer' 'happy' equals a3 and a4; .*ambiguous"):
        convert("nextgqa", TEST_CSV, video_map=VIDEO_MAP, grounding=TEST_GSUB)


def test_convert_skip_invalid_leaves_the_ambiguous_row_out() -> None:
    conversion = convert("nextgqa", TEST_CSV, video_map=VIDEO_MAP, grounding=TEST_GSUB, skip_invalid=True)
    assert [record.qid for record in conversion.records] == ["TN_3842638015_7"]
    assert [(problem.where, problem.field) for problem in conversion.problems] == [("line 3", "answer")]


def test_convert_answer_text_absent_from_the_options_is_an_error(tmp_path: Path) -> None:
    path = _csv(tmp_path, 1, 5, "pushing the box")
    with pytest.raises(SevilaError, match=r"line 2: 'answer' 'pushing the box' is none of the options \['drop it'"):
        convert("nextgqa", path, video_map=VIDEO_MAP, grounding=VAL_GSUB)


def test_convert_question_missing_from_gsub_names_the_gsub_file(tmp_path: Path) -> None:
    path = _csv(tmp_path, 1, 6, "9")
    with pytest.raises(SevilaError, match=rf"question 7533369046_9 has no windows in {VAL_GSUB}; pass the gsub"):
        convert("nextgqa", path, video_map=VIDEO_MAP, grounding=VAL_GSUB)


def test_convert_needs_the_gsub_file_and_the_video_map() -> None:
    with pytest.raises(SevilaError, match="pass --grounding gsub_<split>.json"):
        convert("nextgqa", VAL_CSV, video_map=VIDEO_MAP)
    with pytest.raises(SevilaError, match="pass --video-map map_vid_vidorID.json"):
        convert("nextgqa", VAL_CSV, grounding=VAL_GSUB)


def test_read_gsub_keeps_duration_and_empty_videos() -> None:
    videos = read_gsub(VAL_GSUB)
    assert list(videos) == ["11584566583", "2482028659", "2830899473", "7533369046"]
    assert (videos["2830899473"].duration, videos["2830899473"].location) == (14.0, {})
    assert videos["11584566583"].location["1"] == ((4.5, 12.6),)


def test_record_windows_parse_and_write_back() -> None:
    record = qa_record_from_dict(RECORD)
    assert (record.windows, record.duration) == (((0.0, 6.1), (8.9, 21.5)), 21.0)
    assert record.to_json() == RECORD


def test_record_without_windows_writes_no_windows_key() -> None:
    plain = {key: value for key, value in RECORD.items() if key not in ("windows", "duration")}
    assert qa_record_from_dict(plain).to_json() == plain


def test_record_window_slightly_outside_the_video_is_kept() -> None:
    # gsub_test.json has windows starting at -0.1 and -0.2 s
    assert qa_record_from_dict({**RECORD, "windows": [[-0.2, 3.0]]}).windows == ((-0.2, 3.0),)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"duration": None}, "windows", "'windows' and 'duration' come together"),
        ({"windows": None}, "windows", "'windows' and 'duration' come together"),
        ({"windows": []}, "windows", "expected a non-empty list of [start, end] seconds"),
        ({"windows": [[3.0, 1.0]]}, "windows[0]", "expected start <= end"),
        ({"windows": [[0.0, 1.0], [300.0, 450.0]]}, "windows[1]", "overlapping the video 0..21.0 s (seconds, not"),
        ({"windows": [[1.0]]}, "windows[0]", "expected [start, end] in seconds"),
        ({"windows": [[1.0, "x"]]}, "windows[0]", "expected a number"),
    ],
)
def test_record_bad_windows_name_the_field(changes: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(RecordError) as error:
        qa_record_from_dict({**RECORD, **changes})
    assert error.value.field == field and message in str(error.value)
