"""Bad-input catalogue, malformed files: CSV quoting, pathological JSON in every reader, the NExT-QA video map.

Every case goes through the real `sevila` verb that reads the file and must be one stderr line naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from stage_runner import run_stage, write_overlay

from sevila.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"
NEXTQA_CSV, NEXTQA_MAP = FIXTURES / "nextqa" / "val_sample.csv", FIXTURES / "nextqa" / "map_vid_vidorID_sample.json"
METRICS = FIXTURES / "metrics"


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    return line


CSV_HEADER_AND_ROW = NEXTQA_CSV.read_text().splitlines()[:2]
CSV_CASES = {
    "a quote left open": ('{row}\n4882821564,2697,640,480,"why did the boy,2,1,CW,a,b,c,d,e\n{row}\n',
                          "line 3: malformed CSV (unexpected end of data)"),
    "a stray quote after a quoted field": ('{row}\n"4882821564" x,2697,640,480,why,2,1,CW,a,b,c,d,e\n',
                                           "line 3: malformed CSV (',' expected after '\"')"),
    "a field larger than csv's limit": ('{row}\n"' + "x" * 140_000 + '",2697,640,480,why,2,1,CW,a,b,c,d,e\n',
                                        "line 3: malformed CSV (field larger than field limit (131072))"),
}
QUOTING_FIX = ('; a quote left open or a stray quote? Wrap fields holding commas, quotes or line breaks in "...", '
               'with inner quotes doubled ("")')


@pytest.mark.parametrize("case", CSV_CASES)
@pytest.mark.parametrize("verb", ["prepare", "metrics"])
def test_malformed_csv_names_the_line(tmp_path, capsys, case: str, verb: str) -> None:
    body, reason = CSV_CASES[case]
    path = tmp_path / "val.csv"
    path.write_text(CSV_HEADER_AND_ROW[0] + "\n" + body.format(row=CSV_HEADER_AND_ROW[1]))
    argv = (["prepare", "nextqa", "--input", str(path), "--video-map", str(NEXTQA_MAP), "--output", str(tmp_path / "o")]
            if verb == "prepare" else
            ["metrics", "nextqa", "--predictions", str(METRICS / "nextqa_hga_results.json"),
             "--annotations", str(path)])
    assert _one_line(capsys, argv) == f"sevila {verb}: error: {path}: {reason}{QUOTING_FIX}"


def test_nul_byte_in_csv_names_the_line(tmp_path, capsys) -> None:
    path = tmp_path / "val.csv"
    path.write_text(CSV_HEADER_AND_ROW[0] + "\n" + CSV_HEADER_AND_ROW[1].replace("roll", "ro\x00ll") + "\n")
    argv = ["prepare", "nextqa", "--input", str(path), "--video-map", str(NEXTQA_MAP), "--output", str(tmp_path / "o")]
    assert _one_line(capsys, argv) == (
        f"sevila prepare: error: {path}: line 2: a NUL byte (0x00); this is not CSV text (damaged?): expected CSV with "
        "the columns video,question,answer,qid,type,a0,a1,a2,a3,a4"
    )


# Each JSON reader: the real file it reads, the command line that reads `path`, and a number field it uses.
READERS: dict[str, tuple[Path, Callable[[Path, Path], list[str]], str | None]] = {
    "annotations (SeViLA JSON)": (FIXTURES / "star" / "sevila_val_sample.json", lambda path, tmp: [
        "data", "check", "star", "--annotations", str(path)], "answer"),
    "annotations (QVHighlights jsonl)": (FIXTURES / "qvhighlights" / "highlight_val_sample.jsonl", lambda path, tmp: [
        "data", "check", "qvhighlights", "--annotations", str(path)], "duration"),
    "official release (TVQA jsonl)": (FIXTURES / "tvqa" / "tvqa_labelled_sample.jsonl", lambda path, tmp: [
        "prepare", "tvqa", "--input", str(path), "--output", str(tmp / "out.json")], "answer_idx"),
    "video map": (NEXTQA_MAP, lambda path, tmp: [
        "prepare", "nextqa", "--input", str(NEXTQA_CSV), "--video-map", str(path), "--output", str(tmp / "out.json")],
        None),
    "NExT-GQA gsub": (FIXTURES / "nextgqa" / "gsub_val_sample.json", lambda path, tmp: [
        "prepare", "nextgqa", "--input", str(FIXTURES / "nextgqa" / "val_sample.csv"), "--video-map",
        str(FIXTURES / "nextgqa" / "map_vid_vidorID_sample.json"), "--grounding", str(path),
        "--output", str(tmp / "out.json")], "duration"),
    "QA predictions": (METRICS / "nextqa_hga_results.json", lambda path, tmp: [
        "metrics", "nextqa", "--predictions", str(path), "--annotations", str(METRICS / "nextqa_val.csv")],
        "prediction"),
    "moment predictions": (METRICS / "qvhighlights_moment_detr_preds.jsonl", lambda path, tmp: [
        "metrics", "qvhighlights", "--predictions", str(path),
        "--annotations", str(METRICS / "qvhighlights_val.jsonl")],
        "qid"),
}


def _number_to(literal: str) -> Callable[[str, str | None], str]:
    """Put `literal` (NaN, -Infinity) where the file's first value of `field` is (the video map: its first value)."""
    def damage(text: str, field: str | None) -> str:
        if field is None:
            return re.sub(r'(":\s*)"[^"]*"', rf"\1{literal}", text, count=1)
        return re.sub(rf'("{field}":\s*)-?\d+(\.\d+)?', rf"\1{literal}", text, count=1)
    return damage


# Each pathology: how it damages a file's text, and what the error line must say.
PATHOLOGIES: dict[str, tuple[Callable[[str, str | None], str], str]] = {
    "deep nesting": (lambda text, field: "[" * 100_000,
                     "lists or objects nest too deeply to parse (thousands of levels)"),
    "a number too large to parse": (lambda text, field: "[" + "9" * 5000 + "]",
                                    "has 5000 digits, more than Python converts (4300); no field takes such a number"),
    "a repeated key": (lambda text, field: text.replace("{", '{"dup": 1, "dup": 2, ', 1),
                       "key 'dup' appears twice in one object; each key must appear once"),
    "NaN": (_number_to("NaN"), "nan"),
    "Infinity": (_number_to("-Infinity"), "-inf"),
}


@pytest.mark.parametrize("pathology", PATHOLOGIES)
@pytest.mark.parametrize("reader", READERS)
def test_pathological_json_is_one_line_naming_the_file(tmp_path, capsys, reader: str, pathology: str) -> None:
    real, argv, field = READERS[reader]
    damage, reason = PATHOLOGIES[pathology]
    text = damage(real.read_text(encoding="utf-8"), field)
    assert text != real.read_text(encoding="utf-8")
    if field is None and pathology in ("NaN", "Infinity"):
        reason = 'expected a json object mapping video id -> "folder/id"'  # no number field: a value of a wrong type
    path = tmp_path / real.name
    path.write_text(text, encoding="utf-8")
    line = _one_line(capsys, argv(path, tmp_path))
    assert line.startswith(f"sevila {argv(path, tmp_path)[0]}: error: {path}: ") and reason.lower() in line.lower()


@pytest.mark.parametrize("reader", READERS)
def test_byte_order_mark_is_read_and_invalid_utf8_named(tmp_path, capsys, reader: str) -> None:
    real, argv, _ = READERS[reader]
    path = tmp_path / real.name
    path.write_bytes(b"\xef\xbb\xbf" + real.read_bytes())  # as Windows editors save UTF-8
    assert main(argv(path, tmp_path)) == 0
    capsys.readouterr()
    data = real.read_bytes()
    at = data.index(b'"') + 2
    path.write_bytes(data[:at] + b"\xff" + data[at:])
    assert _one_line(capsys, argv(path, tmp_path)) == (
        f"sevila {argv(path, tmp_path)[0]}: error: {path}: not UTF-8 text: byte 0xff at byte offset {at} cannot be "
        "decoded; re-save the file as UTF-8"
    )


def test_predictions_messages_name_the_file(tmp_path, capsys) -> None:
    """The two messages that once did not: a text-decoding error and a number too large to parse."""
    path = tmp_path / "results.json"
    path.write_bytes(b'{"4010069381_6": {"prediction": 4, "answer": "\xe9"}}')
    argv = ["metrics", "nextqa", "--predictions", str(path)]
    assert _one_line(capsys, argv) == (f"sevila metrics: error: {path}: not UTF-8 text: byte 0xe9 at byte offset 46 "
                                       "cannot be decoded; re-save the file as UTF-8")
    path.write_text('{"4010069381_6": {"prediction": 4,\n "answer": ' + "1" * 4301 + "}}")
    assert _one_line(capsys, argv) == (
        f"sevila metrics: error: {path}: the number at line 2 column 12 has 4301 digits, more than Python converts "
        "(4300); no field takes such a number; expected a prediction or annotation file of `sevila metrics` (.json, "
        ".jsonl or NExT-QA's .csv; see its --help)"
    )


def test_nextqa_config_with_its_video_map_missing(tmp_path, capsys, monkeypatch, tiny_backbone_dir, bad_benchmark):
    monkeypatch.chdir(tmp_path)  # the YAML's default data/nextqa/map_vid_vidorID.json is relative: absent here
    config = write_overlay(tmp_path / "overlay.yaml", tiny_backbone_dir, bad_benchmark, "qa",
                           model={"output_dir": str(tmp_path / "results")}, trainer={"default_root_dir": str(tmp_path)})
    assert run_stage("test", "evaluate", "nextqa", config) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines()[-1] == (
        "sevila test: error: data/nextqa/map_vid_vidorID.json: NExT-QA video id map not found; put "
        "map_vid_vidorID.json of the NExT-QA release there, or point the video map option (--video-map, "
        "data.video_map) at it"
    )
