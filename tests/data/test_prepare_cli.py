"""Tests of `sevila prepare` through the real entry point: outputs, the invalid-row report, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sevila.cli import main
from sevila.data.annotations import read_qa_annotations

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VLEP_DEV = FIXTURES / "vlep" / "vlep_dev_sample.jsonl"
TVQA_TEST = FIXTURES / "tvqa" / "tvqa_test_public_sample.jsonl"
DATASETS = "nextqa, nextgqa, star, how2qa, tvqa, vlep, qvhighlights"


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_prepare_nextqa_writes_the_sevila_json(tmp_path: Path) -> None:
    output = tmp_path / "val.json"
    argv = ["prepare", "nextqa", "--input", str(FIXTURES / "nextqa" / "val_sample.csv"), "--output", str(output),
            "--video-map", str(FIXTURES / "nextqa" / "map_vid_vidorID_sample.json")]
    assert main(argv) == 0
    records = read_qa_annotations(output)
    assert [(record.qid, record.video) for record in records][:1] == [("CH_4010069381_6", "1106/4010069381")]


@pytest.mark.parametrize(("flags", "option"), [([], "catching toy ."), (["--tidy-text"], "catching toy.")])
def test_prepare_nextqa_keeps_the_notebook_text_unless_tidy_text(tmp_path: Path, flags, option) -> None:
    output = tmp_path / "val.json"
    argv = ["prepare", "nextqa", "--input", str(FIXTURES / "nextqa" / "val_text_differences.csv"),
            "--output", str(output), "--video-map", str(FIXTURES / "nextqa" / "map_vid_vidorID_text_differences.json")]
    assert main([*argv, *flags]) == 0
    assert json.loads(output.read_text(encoding="utf-8"))[0]["a4"] == option


def test_prepare_nextgqa_writes_records_with_windows(tmp_path: Path) -> None:
    output, nextgqa = tmp_path / "val.json", FIXTURES / "nextgqa"
    argv = ["prepare", "nextgqa", "--input", str(nextgqa / "val_sample.csv"), "--output", str(output),
            "--grounding", str(nextgqa / "gsub_val_sample.json"),
            "--video-map", str(nextgqa / "map_vid_vidorID_sample.json")]  # fmt: skip
    assert main(argv) == 0
    records = read_qa_annotations(output)
    assert (len(records), records[1].qid, records[1].video, records[1].windows) == (
        11, "CH_11584566583_3", "1161/11584566583", ((6.7, 7.8),))  # fmt: skip


def test_prepare_skip_invalid_writes_the_report_beside_the_output(tmp_path: Path) -> None:
    raw = tmp_path / "dev.jsonl"
    raw.write_text(VLEP_DEV.read_text(encoding="utf-8") + '{"example_id": 5, "vid_name": "x_ep"}\n', encoding="utf-8")
    output = tmp_path / "vlep_dev.json"
    assert main(["prepare", "vlep", "--input", str(raw), "--output", str(output), "--skip-invalid"]) == 0
    report_lines = (tmp_path / "vlep_dev.invalid.jsonl").read_text(encoding="utf-8").splitlines()
    report = [json.loads(line) for line in report_lines]
    assert [(row["where"], row["field"]) for row in report] == [("line 4", "events")]
    assert len(json.loads(output.read_text(encoding="utf-8"))) == 3


def test_prepare_failure_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    output = tmp_path / "tvqa_val.json"
    output.write_text("[]\n", encoding="utf-8")
    argv = ["prepare", "tvqa", "--input", str(TVQA_TEST), "--output", str(output)]
    assert main(argv) == 2
    assert output.read_text(encoding="utf-8") == "[]\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tvqa_val.json"]


def test_prepare_bad_row_exits_2_with_one_line_naming_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["prepare", "tvqa", "--input", str(TVQA_TEST), "--output", str(tmp_path / "out.json")]
    assert main(argv) == 2
    assert _one_error_line(capsys).startswith(
        f"sevila prepare: error: {TVQA_TEST}: line 1: missing field 'answer_idx'"
    )


def test_prepare_unknown_dataset_lists_the_valid_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare", "msrvtt", "--input", str(VLEP_DEV), "--output", str(tmp_path / "out.json")]) == 2
    assert _one_error_line(capsys) == (
        f"sevila prepare: error: unknown dataset 'msrvtt'; expected one of: {DATASETS}"
    )


def test_prepare_missing_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare", "vlep", "--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o.json")]) == 2
    assert "nope.jsonl" in _one_error_line(capsys)


def test_prepare_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare", "vlep", "--input", str(VLEP_DEV)]) == 2
    assert _one_error_line(capsys).startswith("sevila prepare: error: the following arguments are required: --output")
