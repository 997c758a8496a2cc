"""Readers for NExT-GQA scoring: ground-truth windows, predicted windows and answers, by `<video>_<qid>`.

Official files keep their keys: gsub (`{"<video>": {"location": {"<qid>": [[s, e], ...]}}}`), the
windows file `{"<video>_<qid>": [s, e]}` and the QA results `{"<video>_<qid>": {"prediction", "answer"}}`.
Our files (`predictions.json` rows, `sevila prepare nextgqa` records) name questions by our qid
`<type>_<video>_<qid>`, which loses its type: `CW_4882821564_1` -> `4882821564_1`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sevila.data.annotations import read_qa_annotations as read_records
from sevila.data.nextgqa import Window, read_gsub
from sevila.data.raw_files import json_type, load_json, read_text
from sevila.errors import SevilaError
from sevila.metrics.formats import read_qa_predictions

WINDOWS_FORMAT = 'NExT-GQA windows {"<video>_<qid>": [start, end]} or our predictions.json (rows with "window")'
TRUTH_FORMAT = "NExT-GQA gsub_<split>.json, or the SeViLA-format JSON of `sevila prepare nextgqa`"
WINDOW_HINT = "expected [start, end] in seconds (a list of numbers; its first and last are read)"


def question_key(path: str | Path, where: str, qid: Any) -> str:
    """`<type>_<video>_<qid>` -> `<video>_<qid>`; a key that already is `<video>_<qid>` stays."""
    parts = qid.split("_") if isinstance(qid, str) else []
    if len(parts) in (2, 3) and all(parts):
        return "_".join(parts[-2:])
    expected = "expected '<type>_<video>_<qid>' as `sevila prepare nextgqa` writes (e.g. CW_4882821564_1)"
    raise SevilaError(f"{path}: {where}: qid {qid!r} names no NExT-GQA question; {expected}")


def read_truth_windows(path: str | Path) -> dict[str, tuple[Window, ...]]:
    """Ground-truth windows by `<video>_<qid>` from gsub (file order) or from our records with `windows`."""
    if not read_text(path, TRUTH_FORMAT).lstrip().startswith("["):
        videos = read_gsub(path)
        return {f"{video}_{qid}": windows for video, entry in videos.items() for qid, windows in entry.location.items()}
    truths: dict[str, tuple[Window, ...]] = {}
    for number, record in enumerate(read_records(path), start=1):
        where = f"record {number} (qid {record.qid})"
        if not record.windows:
            raise SevilaError(f"{path}: {where}: no 'windows'; expected {TRUTH_FORMAT}")
        _put(path, where, truths, question_key(path, where, record.qid), record.windows)
    return truths


def read_predictions(path: str | Path) -> tuple[dict[str, tuple[float, ...]], dict[str, bool] | None]:
    """Predicted windows by key, and whether each answer is right when the file holds answers (ours does)."""
    data = load_json(path, WINDOWS_FORMAT)
    if isinstance(data, dict):
        if not data:
            raise SevilaError(f"{path}: no predictions in the file; expected {WINDOWS_FORMAT}")
        return {key: _window(path, f"key {key!r}", value) for key, value in data.items()}, None
    if not isinstance(data, list) or not data:
        raise SevilaError(f"{path}: the file holds {json_type(data)}, empty or not; expected {WINDOWS_FORMAT}")
    windows: dict[str, tuple[float, ...]] = {}
    for index, row in enumerate(data):
        where = f"record {index}"
        if not isinstance(row, dict):
            raise SevilaError(f"{path}: {where}: the record is {json_type(row)}; expected an object with 'qid'")
        key = question_key(path, where, row.get("qid"))
        if row.get("window") is not None:  # a row without a window drops out of the grounding metrics
            _put(path, f"{where} (qid {row['qid']})", windows, key, _window(path, where, row["window"]))
    if not windows:
        fix = "this predictions.json predates windows: re-run the evaluation, or pass the official windows file"
        raise SevilaError(f"{path}: no record has a 'window' ([start, end] seconds); {fix}")
    return windows, read_answers(path)


def read_answers(path: str | Path) -> dict[str, bool]:
    """Whether each answer is right (`prediction == answer`) by key, from official QA results or our predictions."""
    correct: dict[str, bool] = {}
    for qid, prediction in read_qa_predictions(path).items():
        where = f"qid {qid!r}"
        if prediction.target is None:
            raise SevilaError(f"{path}: {where}: no answer to compare with; expected {{prediction, answer}} entries")
        _put(path, where, correct, question_key(path, where, qid), prediction.prediction == prediction.target)
    return correct


def _window(path: str | Path, where: str, value: Any) -> tuple[float, ...]:
    numbers = value if isinstance(value, list) and value else [None]
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in numbers):
        raise SevilaError(f"{path}: {where}: the window is {value!r:.60}; {WINDOW_HINT}")
    return tuple(float(x) for x in numbers)


def _put(path: str | Path, where: str, table: dict[str, Any], key: str, value: Any) -> None:
    if key in table:
        raise SevilaError(f"{path}: {where}: a second entry for question {key!r}; each question must appear once")
    table[key] = value
