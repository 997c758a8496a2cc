"""Readers of the prediction and annotation files `sevila metrics` accepts; errors name the file and record.

The format of a file is chosen by its suffix (`.json`, `.jsonl`, `.csv`) and, for QA files, by the
fields of its first record. Ids are normalised to our qids (sevila-method.md §8): NExT-QA csv rows
become `<type>_<video>_<qid>`, VLEP `example_id`s become `VLEP_<example_id>`; NExT-QA results keys
stay `<video>_<qid>` (they carry no type) and QVHighlights qids become strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sevila.data.raw_files import JSONProblem, csv_rows, load_json, parse_json, read_text
from sevila.errors import SevilaError
from sevila.metrics.moments import ScoredWindow, Window

NEXTQA_CSV_COLUMNS = ("video", "qid", "type", "answer")
FILE_FORMAT = "a prediction or annotation file of `sevila metrics` (.json, .jsonl or NExT-QA's .csv; see its --help)"


@dataclass(frozen=True)
class Prediction:
    """A predicted option index, with the target when the prediction file carries one."""

    prediction: int
    target: int | None


def _read_text(path: Path) -> str:
    if not path.exists():  # a folder is named as one by the OS error of reading it
        raise FileNotFoundError(f"{path}: no such file")
    return read_text(path, FILE_FORMAT)


def _read_json(path: Path) -> Any:
    return load_json(path, FILE_FORMAT, _read_text(path))


def _records(path: Path) -> list[tuple[str, Any]]:
    """Records of a `.jsonl` file or a `.json` list, each with its position for error messages."""
    if path.suffix == ".jsonl":
        records = []
        for number, line in enumerate(_read_text(path).splitlines(), start=1):
            if line.strip():
                try:
                    records.append((f"line {number}", parse_json(line, one_line=True)))
                except JSONProblem as problem:
                    raise SevilaError(f"{path}: line {number}: {problem}") from None
        return records
    if path.suffix != ".json":
        raise SevilaError(f"{path}: unknown file type {path.suffix!r}; expected .json or .jsonl")
    return _list_records(path, _read_json(path))


def _list_records(path: Path, data: Any) -> list[tuple[str, Any]]:
    if not isinstance(data, list):
        raise SevilaError(f"{path}: expected a JSON list of records, found a JSON {type(data).__name__}")
    return [(f"record {index}", record) for index, record in enumerate(data)]


def _field(path: Path, where: str, record: Any, name: str) -> Any:
    if not isinstance(record, dict):
        raise SevilaError(f"{path}: {where}: expected a JSON object, found {record!r:.60}")
    if name not in record:
        raise SevilaError(f"{path}: {where}: missing field {name!r} (has {sorted(record)})")
    return record[name]


def _int_field(path: Path, where: str, record: Any, name: str) -> int:
    value = _field(path, where, record, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SevilaError(f"{path}: {where}: {name!r} is {value!r}, expected an integer")
    return value


def _qid_field(path: Path, where: str, record: Any) -> str:
    qid = _field(path, where, record, "qid")
    if not isinstance(qid, str) or not qid:
        raise SevilaError(f"{path}: {where}: 'qid' is {qid!r}, expected a non-empty string")
    return qid


def _put(path: Path, where: str, table: dict[str, Any], key: str, value: Any) -> None:
    if key in table:
        raise SevilaError(f"{path}: {where}: duplicate id {key!r}; each question must appear once")
    table[key] = value


def read_qa_predictions(path: str | Path) -> dict[str, Prediction]:
    """Predictions by id from a NExT-QA results JSON, a VLEP submission jsonl, or our prediction JSON list."""
    path = Path(path)
    if path.suffix == ".json":
        data = _read_json(path)
        if isinstance(data, dict):
            return _nextqa_results(path, data)
        records = _list_records(path, data)
    else:
        records = _records(path)
    if not records:
        raise SevilaError(f"{path}: no predictions in the file")
    if isinstance(records[0][1], dict) and "pred_ans" in records[0][1]:
        return _vlep_submission(path, records)
    predictions: dict[str, Prediction] = {}
    for where, record in records:
        qid = _qid_field(path, where, record)
        where = f"{where} (qid {qid})"
        prediction = _int_field(path, where, record, "prediction")
        _put(path, where, predictions, qid, Prediction(prediction, _int_field(path, where, record, "target")))
    return predictions


def _nextqa_results(path: Path, data: dict[str, Any]) -> dict[str, Prediction]:
    """NExT-QA's official results `{"<video>_<qid>": {"prediction": i, "answer": j}}`."""
    if not data:
        raise SevilaError(f"{path}: no predictions in the file")
    results = {}
    for key, entry in data.items():
        where = f"entry {key!r}"
        if key.count("_") != 1:
            raise SevilaError(f"{path}: {where}: expected a key '<video>_<qid>' as in NExT-QA results")
        prediction = _int_field(path, where, entry, "prediction")
        results[key] = Prediction(prediction, _int_field(path, where, entry, "answer"))
    return results


def _vlep_submission(path: Path, records: list[tuple[str, Any]]) -> dict[str, Prediction]:
    """VLEP submission lines `{"example_id": int, "pred_ans": int}`."""
    predictions: dict[str, Prediction] = {}
    for where, record in records:
        example_id = _int_field(path, where, record, "example_id")
        prediction = Prediction(_int_field(path, where, record, "pred_ans"), None)
        _put(path, where, predictions, f"VLEP_{example_id}", prediction)
    return predictions


def read_qa_annotations(path: str | Path) -> dict[str, int]:
    """Answer index by our qid from NExT-QA's `val.csv`, a VLEP dev jsonl, or a SeViLA-format JSON list."""
    path = Path(path)
    if path.suffix == ".csv":
        return _nextqa_csv(path)
    records = _records(path)
    if not records:
        raise SevilaError(f"{path}: no annotations in the file")
    answers: dict[str, int] = {}
    vlep = isinstance(records[0][1], dict) and "example_id" in records[0][1]
    for where, record in records:
        if vlep:
            qid = f"VLEP_{_int_field(path, where, record, 'example_id')}"
        else:
            qid = _qid_field(path, where, record)
        _put(path, where, answers, qid, _int_field(path, f"{where} (qid {qid})", record, "answer"))
    return answers


def _nextqa_csv(path: Path) -> dict[str, int]:
    """NExT-QA's official csv (`video,...,answer,qid,type,...`) as `<type>_<video>_<qid>` -> answer."""
    if not path.exists():  # a folder is named as one by the OS error of reading it
        raise FileNotFoundError(f"{path}: no such file")
    answers: dict[str, int] = {}
    for row in csv_rows(path, NEXTQA_CSV_COLUMNS, header=True):
        if row.value is None:
            raise SevilaError(f"{path}: {row.where}: {row.error}")
        answer = row.value["answer"]
        if not answer or not answer.isdigit() or not answer.isascii():
            raise SevilaError(f"{path}: {row.where}: 'answer' is {answer!r}, expected an integer")
        _put(path, row.where, answers, "_".join(row.value[key] for key in ("type", "video", "qid")), int(answer))
    if not answers:
        raise SevilaError(f"{path}: no annotations in the file")
    return answers


def _window(path: Path, where: str, value: Any, size: int) -> tuple[float, ...]:
    numbers = value if isinstance(value, list) else []
    if len(numbers) != size or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers):
        raise SevilaError(f"{path}: {where}: window {value!r} is not {size} finite numbers")
    if numbers[0] > numbers[1]:
        raise SevilaError(f"{path}: {where}: window {value!r} ends before it starts")
    return tuple(float(x) for x in numbers)


def _window_list(path: Path, where: str, record: Any, name: str, size: int) -> list[tuple[float, ...]]:
    value = _field(path, where, record, name)
    if not isinstance(value, list):
        raise SevilaError(f"{path}: {where}: {name!r} is {value!r:.60}, expected a list of windows")
    return [_window(path, where, window, size) for window in value]


def _moment_qid(path: Path, where: str, record: Any) -> str:
    qid = _field(path, where, record, "qid")
    if isinstance(qid, bool) or not isinstance(qid, (int, str)):
        raise SevilaError(f"{path}: {where}: 'qid' is {qid!r}, expected an integer")
    return str(qid)


def read_moment_predictions(path: str | Path) -> dict[str, list[ScoredWindow]]:
    """Windows `[start, end, score]` by qid from a Moment-DETR submission jsonl (`qid`, `pred_relevant_windows`)."""
    path = Path(path)
    predictions: dict[str, list[ScoredWindow]] = {}
    for where, record in _records(path):
        qid = _moment_qid(path, where, record)
        where = f"{where} (qid {qid})"
        windows = _window_list(path, where, record, "pred_relevant_windows", 3)
        # The official script cuts to the first 10 listed windows and takes the first as top-1:
        # only a file sorted by score means the same thing to it and to us.
        if any(later[2] > earlier[2] for earlier, later in zip(windows, windows[1:])):
            raise SevilaError(f"{path}: {where}: 'pred_relevant_windows' must be sorted by descending score")
        _put(path, where, predictions, qid, windows)
    if not predictions:
        raise SevilaError(f"{path}: no predictions in the file")
    return predictions


def read_moment_annotations(path: str | Path) -> dict[str, list[Window]]:
    """Ground-truth windows by qid from QVHighlights' `highlight_{train,val}_release.jsonl`."""
    path = Path(path)
    annotations: dict[str, list[Window]] = {}
    for where, record in _records(path):
        qid = _moment_qid(path, where, record)
        where = f"{where} (qid {qid})"
        if isinstance(record, dict) and "relevant_windows" not in record:
            raise SevilaError(f"{path}: {where}: no 'relevant_windows' (the test split has no answers)")
        windows = _window_list(path, where, record, "relevant_windows", 2)
        if not windows:
            raise SevilaError(f"{path}: {where}: 'relevant_windows' is empty; expected at least one window")
        _put(path, where, annotations, qid, windows)
    if not annotations:
        raise SevilaError(f"{path}: no annotations in the file")
    return annotations
