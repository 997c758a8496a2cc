"""Tests of the official-release converters on real rows (expected records worked out by hand) and bad rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sevila.data.annotations import MomentRecord, QARecord
from sevila.data.converters import convert
from sevila.data.video_paths import load_video_map
from sevila.errors import SevilaError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NEXTQA_MAP = FIXTURES / "nextqa" / "map_vid_vidorID_sample.json"
VLEP_ROW = {"example_id": 20142, "vid_name": "friends_s03e09_seg02_clip_07_ep", "ts": [38.81, 40.37],
            "events": ["Ross will stop, turn and point at Monica.", "Ross will stop and ask Monica."], "answer": 0}


def _jsonl(tmp_path: Path, rows: list[dict[str, Any]], name: str = "raw.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _vlep(**changes: Any) -> dict[str, Any]:
    row = {**VLEP_ROW, **changes}
    return {key: value for key, value in row.items() if value is not ...}


def _nextqa(tmp_path: Path, answer: str) -> Path:
    lines = (FIXTURES / "nextqa" / "val_sample.csv").read_text(encoding="utf-8").splitlines()
    fields = lines[1].split(",")
    fields[5] = answer
    path = tmp_path / "val.csv"
    path.write_text("\n".join([lines[0], ",".join(fields)]) + "\n", encoding="utf-8")
    return path


def test_convert_nextqa_real_rows_match_hand_computed_records() -> None:
    records = convert("nextqa", FIXTURES / "nextqa" / "val_sample.csv", video_map=load_video_map(NEXTQA_MAP)).records
    assert records[1] == QARecord(
        qid="CW_4882821564_1", video="1104/4882821564",
        question="why did the boy pick up one present from the group of them and move to the sofa?",
        options=("share with the girl.", "approach lady sitting there.", "unwrap it.", "playing with toy train.",
                 "gesture something."),
        answer=2, start=None, end=None, qtype="CW",
    )
    qids = ["CH_4010069381_6", "CW_4882821564_1", "CW_3763643225_7", "DO_7999756100_4"]
    assert [record.qid for record in records] == qids


def test_convert_nextqa_tidy_text_adds_question_mark_only_when_missing() -> None:
    sample = FIXTURES / "nextqa" / "val_sample.csv"
    records = convert("nextqa", sample, video_map=load_video_map(NEXTQA_MAP), tidy_text=True).records
    assert records[3].question == "why did the man in blue shown after the middle lift up his right hand?"


def test_convert_nextqa_tidy_text_strips_whitespace_before_the_final_period() -> None:
    sample = FIXTURES / "nextqa" / "val_sample.csv"
    records = convert("nextqa", sample, video_map=load_video_map(NEXTQA_MAP), tidy_text=True).records
    assert records[2].options[4] == "catching toy."


# The 5 of the 4,996 NExT-QA val questions whose text the tidied conversion changes (file lines 230, 3122, 3483,
# 4100, 4862), and the original notebook's text for them: `a + '.'` and `q + '?'`, spaces and `?` kept.
NOTEBOOK_TEXT = {
    "CW_3763643225_7": ("a4", "catching toy .", "catching toy."),
    "TC_4263096481_6": ("a0", " oven.", "oven."),
    "DO_7999756100_4": ("question", "why did the man in blue shown after the middle lift up his right hand??",
                        "why did the man in blue shown after the middle lift up his right hand?"),
    "TC_2442307875_5": ("a4", "synchronise with her friends .", "synchronise with her friends."),
    "TC_3869005094_4": ("a1", "wave to them .", "wave to them."),
}


@pytest.mark.parametrize("tidy", [False, True], ids=["notebook", "tidy"])
def test_convert_nextqa_text_is_the_notebooks_byte_for_byte_unless_tidied(tidy: bool) -> None:
    rows = FIXTURES / "nextqa" / "val_text_differences.csv"
    video_map = load_video_map(FIXTURES / "nextqa" / "map_vid_vidorID_text_differences.json")
    records = convert("nextqa", rows, video_map=video_map, tidy_text=tidy).to_json()
    assert [record["qid"] for record in records] == list(NOTEBOOK_TEXT)
    for record in records:
        field, notebook, tidied = NOTEBOOK_TEXT[record["qid"]]
        assert record[field] == (tidied if tidy else notebook)
    first = records[0]  # every other text: `+ '.'` / `+ '?'` on the csv's text in both modes
    assert first["question"] == "why does the boy run around the room?"
    assert [first[f"a{i}"] for i in range(4)] == ["put paper giraffe down.", "doing ballet.", "play with dog.",
                                                  "place the cup on table."]


def test_convert_nextqa_requires_the_video_map() -> None:
    with pytest.raises(SevilaError, match="nextqa needs the video id map: pass --video-map"):
        convert("nextqa", FIXTURES / "nextqa" / "val_sample.csv")


def test_convert_nextqa_rejects_video_missing_from_map() -> None:
    with pytest.raises(SevilaError, match=r"line 2: video '4010069381' is not in the video id map"):
        convert("nextqa", FIXTURES / "nextqa" / "val_sample.csv", video_map={})


def test_convert_nextqa_rejects_answer_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(SevilaError) as caught:
        convert("nextqa", _nextqa(tmp_path, answer="7"), video_map=load_video_map(NEXTQA_MAP))
    assert str(caught.value) == f"{tmp_path / 'val.csv'}: line 2: 'answer' is 7 but there are 5 options; expected 0..4"


def test_convert_star_equals_the_released_sevila_records() -> None:
    conversion = convert("star", FIXTURES / "star" / "STAR_val_sample.json")
    released = json.loads((FIXTURES / "star" / "sevila_val_sample.json").read_text(encoding="utf-8"))
    assert conversion.to_json() == released


def test_convert_star_rejects_answer_not_among_choices(tmp_path: Path) -> None:
    rows = json.loads((FIXTURES / "star" / "STAR_val_sample.json").read_text(encoding="utf-8"))
    rows[1]["answer"] = "The sofa."
    path = tmp_path / "STAR_val.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(SevilaError, match=r"STAR_val.json: record 2: 'answer' 'The sofa.' equals no choice"):
        convert("star", path)


def test_convert_tvqa_numbers_qids_by_row_and_keeps_the_text_as_it_is() -> None:
    records = convert("tvqa", FIXTURES / "tvqa" / "tvqa_labelled_sample.jsonl").records
    assert records[0] == QARecord(
        qid="TVQA_0", video="s03e21_seg02_clip_08",
        question="Who does Sheldon say he'll send an email to after coming out of the bathroom?",
        options=("The yogurt manufacturer. ", "The people who make toilet seats.", "Stan Lee.", "Leonard's mom.",
                 "The person who didn't make the apartment walls soundproof."),
        answer=3, start=48.62, end=60.02, qtype="TVQA",
    )


def test_convert_tvqa_tidy_text_strips_options() -> None:
    records = convert("tvqa", FIXTURES / "tvqa" / "tvqa_labelled_sample.jsonl", tidy_text=True).records
    assert records[0].options[0] == "The yogurt manufacturer."


def test_convert_tvqa_nan_ts_uses_the_whole_clip() -> None:
    records = convert("tvqa", FIXTURES / "tvqa" / "tvqa_labelled_sample.jsonl").records
    assert (records[2].qid, records[2].start, records[2].end) == ("TVQA_2", None, None)


def test_convert_tvqa_rejects_the_unlabelled_test_split() -> None:
    with pytest.raises(SevilaError, match=r"tvqa_test_public_sample.jsonl: line 1: missing field 'answer_idx'"):
        convert("tvqa", FIXTURES / "tvqa" / "tvqa_test_public_sample.jsonl")


def test_convert_how2qa_csv_inserts_the_correct_answer_at_row_mod_4() -> None:
    records = convert("how2qa", FIXTURES / "how2qa" / "how2QA_val_sample.csv").records
    assert [record.answer for record in records] == [0, 1, 2, 3]
    assert records[2] == QARecord(
        qid="HOW2QA_2", video="xyz_-987654", question="What tool, if any, does she pick up?",
        options=("a hammer", "a saw", "a screwdriver", "a drill"), answer=2, start=0.0, end=4.5, qtype="HOW2QA",
    )


def test_convert_how2qa_jsonl_reads_tvqa_style_rows() -> None:
    records = convert("how2qa", FIXTURES / "how2qa" / "how2qa_val_sample.jsonl").records
    assert records[1] == QARecord(
        qid="HOW2QA_1", video="xyz_-987654_60_120", question="What tool does she pick up? ",
        options=("a screwdriver", "a saw", "a drill", "a hammer"), answer=0, start=0.0, end=4.5, qtype="HOW2QA",
    )


def test_convert_how2qa_rejects_nan_ts(tmp_path: Path) -> None:
    row = {"vid_name": "v_0_60", "ts": "NaN-NaN", "q": "why?", "answer_idx": 1}
    row.update(a0="a", a1="b", a2="c", a3="d")
    with pytest.raises(SevilaError, match=r"line 1: 'ts' is 'NaN-NaN'; expected finite seconds"):
        convert("how2qa", _jsonl(tmp_path, [row]))


def test_convert_vlep_real_rows_keep_both_video_sources() -> None:
    records = convert("vlep", FIXTURES / "vlep" / "vlep_dev_sample.jsonl").records
    assert records[0] == QARecord(
        qid="VLEP_20142", video="friends_s03e09_seg02_clip_07_ep", question="",
        options=("Ross will stop, turn and point at Monica.",
                 "Ross will stop and ask Monica why she is pointing at him."),
        answer=0, start=38.81, end=40.37, qtype="VLEP",
    )
    assert records[2].video == "lg0ldbwZhPQ_subs_003_00:04:00_00:05:00_ep"


def test_convert_vlep_rejects_nan_ts(tmp_path: Path) -> None:
    with pytest.raises(SevilaError, match=r"raw.jsonl: line 1: 'ts' is nan; expected a finite number of seconds"):
        convert("vlep", _jsonl(tmp_path, [_vlep(ts=[float("nan"), 40.0])]))


def test_convert_vlep_rejects_missing_field_naming_line_and_field(tmp_path: Path) -> None:
    with pytest.raises(SevilaError) as caught:
        convert("vlep", _jsonl(tmp_path, [_vlep(), _vlep(example_id=7, events=...)]))
    expected = "line 2: missing field 'events'; expected a list of the 2 candidate events"
    assert str(caught.value) == f"{tmp_path / 'raw.jsonl'}: {expected}"


def test_convert_rejects_duplicate_qid(tmp_path: Path) -> None:
    with pytest.raises(SevilaError, match=r"line 2 \(qid VLEP_20142\): duplicate qid, first used at line 1"):
        convert("vlep", _jsonl(tmp_path, [_vlep(), _vlep()]))


def test_convert_qvhighlights_real_rows_get_sevila_qids() -> None:
    records = convert("qvhighlights", FIXTURES / "qvhighlights" / "highlight_val_sample.jsonl").records
    assert records[0] == MomentRecord(
        qid="QVHighlight_2579", video="NUsG9BgSes0_210.0_360.0",
        query="A girl and her mother cooked while talking with each other on facetime.",
        duration=150.0, windows=((82.0, 150.0),),
    )


def test_convert_qvhighlights_test_split_has_no_windows() -> None:
    conversion = convert("qvhighlights", FIXTURES / "qvhighlights" / "highlight_test_sample.jsonl")
    assert conversion.to_json()[0] == {"video": "_6hnl_BrFvs_360.0_510.0", "qid": "QVHighlight_3158",
                                       "query": "A video covering hill and water from a boat", "duration": 150.0}


def test_convert_skip_invalid_collects_problems_and_continues(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [_vlep(answer=2), _vlep(), _vlep(example_id=9, ts=[5.0, 1.0])])
    conversion = convert("vlep", path, skip_invalid=True)
    assert [record.qid for record in conversion.records] == ["VLEP_20142"]
    problems = [(p.where, p.qid, p.field) for p in conversion.problems]
    assert problems == [("line 1", None, "answer"), ("line 3", "VLEP_9", "start")]


def test_convert_skip_invalid_reports_unparseable_lines(tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps(VLEP_ROW) + "\n{not json\n", encoding="utf-8")
    (problem,) = convert("vlep", path, skip_invalid=True).problems
    expected = "invalid JSON at column 2: Expecting property name enclosed in double quotes"
    assert (problem.where, problem.message) == ("line 2", expected)


def test_convert_rejects_csv_without_required_columns(tmp_path: Path) -> None:
    path = tmp_path / "val.csv"
    path.write_text("video,question\n1,why\n", encoding="utf-8")
    expected = r"val.csv: line 1: the header video,question lacks the column\(s\) answer,qid"
    with pytest.raises(SevilaError, match=expected):
        convert("nextqa", path, video_map={})


def test_convert_rejects_unknown_dataset() -> None:
    expected = "unknown dataset 'msrvtt'; expected one of: nextqa, nextgqa, star, how2qa, tvqa, vlep, qvhighlights"
    with pytest.raises(SevilaError, match=expected):
        convert("msrvtt", FIXTURES / "vlep" / "vlep_dev_sample.jsonl")
