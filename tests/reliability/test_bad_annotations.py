"""Bad-input catalogue, annotations: `sevila data check` / `sevila prepare` exit 2 with one line naming the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import qa_record

from sevila.cli import main

RECORD = qa_record("v0", 0)  # qid Color_v0_0


def _check(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, *extra: str) -> str:
    path = tmp_path / "val.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["data", "check", "star", "--annotations", str(path), *extra]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    return line.replace(str(path), "FILE")


def _rows(*rows: dict[str, Any]) -> str:
    return json.dumps(list(rows))


CASES = {
    "empty file": ("", "FILE: the file is empty; expected a JSON list of QA records"),
    "invalid JSON": ('[{"video": "v0",]', "FILE: invalid JSON at line 1 column 17: Expecting property name"),
    "missing field": (_rows({k: v for k, v in RECORD.items() if k != "question"}),
                      "FILE: record 1 (qid Color_v0_0): missing field 'question'; expected the question text"),
    "answer index out of range": (_rows(dict(RECORD, answer=4)),
                                  "FILE: record 1 (qid Color_v0_0): 'answer' is 4 but num_option is 4; expected 0..3"),
    "num_option not matching the options": (
        _rows(dict(RECORD, num_option=5)),
        "FILE: record 1 (qid Color_v0_0): 'num_option' is 5 but the non-empty options are a0,a1,a2,a3; "
        "expected exactly a0..a4: fix num_option or fill the options"),
    "duplicate qid": (_rows(RECORD, dict(RECORD, video="v1")),
                      "FILE: record 2 (qid Color_v0_0): duplicate qid, first used at record 1; qids must be unique"),
    "NaN timestamps": (_rows(dict(RECORD, start=1.0, end=2.0)).replace("1.0", "NaN"),
                       "FILE: record 1 (qid Color_v0_0): 'start' is nan; expected a finite number"),
    "non-UTF-8 text": (_rows(dict(RECORD, question="caf\u00e9?")).replace("\\u00e9", "\u00e9").encode("latin-1"),
                       "FILE: not UTF-8 text: byte 0xe9 at byte offset"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_annotation_file_is_one_line_naming_file_record_and_field(tmp_path, capsys, case: str) -> None:
    content, expected = CASES[case]
    assert _check(tmp_path, capsys, content).startswith(f"sevila data: error: {expected}")


def test_unknown_dataset_name_lists_the_valid_ones(tmp_path, capsys) -> None:
    (tmp_path / "val.json").write_text(_rows(RECORD))  # a valid file: the dataset name is the only problem
    assert main(["data", "check", "nexqta", "--annotations", str(tmp_path / "val.json")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "sevila data: error: unknown dataset 'nexqta'; expected one of: nextqa, nextgqa, star, how2qa, tvqa, vlep, qvhighlights"
    ]


def test_invalid_csv_row_names_the_line_and_the_expected_columns(tmp_path, capsys) -> None:
    raw = tmp_path / "val.csv"
    raw.write_text('video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4\n4010069381,cut\n')
    (tmp_path / "map.json").write_text("{}")
    args = ["prepare", "nextqa", "--input", str(raw), "--output", str(tmp_path / "out.json"),
            "--video-map", str(tmp_path / "map.json")]
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"sevila prepare: error: {raw}: line 2: the row has 2 fields; expected 13 "
        "(video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4)"
    ]
    assert not (tmp_path / "out.json").exists()


def test_video_path_escaping_the_video_folder_is_refused(tmp_path, capsys) -> None:
    line = _check(tmp_path, capsys, _rows(dict(RECORD, video="../../etc/passwd")), "--videos", str(tmp_path / "videos"))
    assert line == (
        f"sevila data: error: video '../../etc/passwd' would resolve outside the video folder {tmp_path}/videos "
        "(empty, absolute or '..'); annotation videos must be names or relative paths inside the video folder"
    )
