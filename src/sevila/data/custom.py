"""Your own questions: a CSV or JSON Lines file next to a folder of videos (the `custom` benchmark).

One row per question (docs: README "Your own videos"):
  video     the file name inside the video folder, extension included (`kitchen/clip1.mp4`; any format PyAV reads)
  question  the question text
  options   2-5 answer options: a JSON list in JSON Lines, `|`-separated text in CSV (`red|green|blue`)
  answer    the correct option's text (JSON Lines may also give its 0-based index); optional for `sevila predict`
  start, end  optional: the clip's span in seconds (both or neither)
  qid       optional: a unique id (default: the row's line number); `sevila predict` resumes by it
  split     optional: train, val or test; without it a `val_fraction` of the videos becomes the val split
  type      optional: a question type, for accuracy per type (default `custom`)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sevila.data.annotations import QARecord, RecordError, qa_record_from_dict
from sevila.data.raw_files import RawRow, csv_rows, jsonl_rows, read_text
from sevila.errors import SevilaError

CUSTOM_FORMAT = (
    "a CSV (with a header) or JSON Lines file of questions {video, question, options, answer, start?, end?, qid?, "
    "split?, type?}; CSV options are separated by '|'"
)
REQUIRED = ("video", "question", "options")
OPTIONAL = ("answer", "start", "end", "qid", "split", "type")
SPLITS = ("train", "val", "test")
DEFAULT_TYPE = "custom"
OPTION_SEPARATOR = "|"
DEFAULT_VAL_FRACTION = 0.2  # share of the videos held out for val when the file has no split column


@dataclass(frozen=True)
class CustomQuestion:
    """One row of a custom questions file: the record in SeViLA terms, its split and the user's own qid."""

    record: QARecord  # qid `<type>_<qid>` (the type is the qid prefix metrics group by); answer -1 if none given
    qid: str  # as the file gives it (or the line number)
    split: str | None
    has_answer: bool


def _rows(path: Path) -> list[RawRow]:
    if path.suffix.lower() == ".csv":
        return csv_rows(path, REQUIRED, header=True)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return jsonl_rows(path, CUSTOM_FORMAT, read_text(path, CUSTOM_FORMAT))
    raise SevilaError(f"{path}: expected a .csv or .jsonl file of questions: {CUSTOM_FORMAT}")


def _options(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [option.strip() for option in value.split(OPTION_SEPARATOR)]
    if isinstance(value, list):
        return value
    raise RecordError("options", f"'options' is {value!r}; expected a list of 2-5 option texts (CSV: 'a|b|c')")


def _answer(value: Any, options: list[Any]) -> int:
    """The answer's option index: its text, or (JSON) a 0-based integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # range-checked with the record
    if isinstance(value, str) and value.strip() in [str(o).strip() for o in options]:
        return [str(o).strip() for o in options].index(value.strip())
    listed = ", ".join(repr(o) for o in options)
    expected = f"the text of one option ({listed}), or in JSON Lines its 0-based index"
    raise RecordError("answer", f"'answer' is {value!r}; expected {expected}")


def _empty(raw: Mapping[str, Any], field: str) -> bool:
    value = raw.get(field)
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> Any:
    """CSV cells are text; the record validation reads numeric strings as numbers."""
    return value.strip() if isinstance(value, str) else value


def custom_question(raw: Mapping[str, Any], line: int, need_answer: bool) -> CustomQuestion:
    """Validate one row; a bad field raises RecordError naming it."""
    unknown = sorted(set(raw) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise RecordError(unknown[0], f"unknown field(s) {', '.join(unknown)}; expected {', '.join(REQUIRED + OPTIONAL)}")
    for field in REQUIRED:
        if _empty(raw, field):
            raise RecordError(field, f"missing field '{field}'; expected {CUSTOM_FORMAT}")
    options = _options(raw["options"])
    has_answer = not _empty(raw, "answer")
    if need_answer and not has_answer:
        raise RecordError("answer", "missing field 'answer'; training and evaluation need the correct option's text")
    qid = str(raw["qid"]).strip() if not _empty(raw, "qid") else str(line)
    qtype = str(raw["type"]).strip() if not _empty(raw, "type") else DEFAULT_TYPE
    if "_" in qtype:
        raise RecordError("type", f"'type' is {qtype!r}; expected a type name without '_' (e.g. why, count)")
    split = str(raw["split"]).strip() if not _empty(raw, "split") else None
    if split is not None and split not in SPLITS:
        raise RecordError("split", f"'split' is {split!r}; expected one of {', '.join(SPLITS)} (or leave it empty)")
    sevila_row = {"qid": f"{qtype}_{qid}", "video": raw["video"], "question": raw["question"],
               "num_option": len(options), **{f"a{i}": option for i, option in enumerate(options)},
               "answer": _answer(raw["answer"], options) if has_answer else 0}
    if not (_empty(raw, "start") and _empty(raw, "end")):
        sevila_row.update(start=None if _empty(raw, "start") else _number(raw["start"]),
                       end=None if _empty(raw, "end") else _number(raw["end"]))
    record = qa_record_from_dict(sevila_row)
    if not has_answer:
        record = QARecord(record.qid, record.video, record.question, record.options, -1, record.start, record.end,
                          record.qtype)
    return CustomQuestion(record, qid, split, has_answer)


def read_custom_questions(path: str | Path, need_answer: bool = True) -> list[CustomQuestion]:
    """Read and validate a custom questions file; the first bad row stops it with file, line, qid and field."""
    path = Path(path)
    if not path.is_file():
        raise SevilaError(f"{path}: questions file not found; expected {CUSTOM_FORMAT}")
    questions: list[CustomQuestion] = []
    first: dict[str, str] = {}
    for row in _rows(path):
        if row.value is None:
            raise SevilaError(f"{path}: {row.where}: {row.error}")
        try:
            question = custom_question(row.value, int(row.where.split()[-1]), need_answer)
        except RecordError as error:
            qid = row.value.get("qid")
            raise SevilaError(f"{path}: {row.where}" + (f" (qid {qid})" if qid else "") + f": {error}") from None
        if question.qid in first:
            raise SevilaError(f"{path}: {row.where} (qid {question.qid}): duplicate qid, first used at "
                              f"{first[question.qid]}; qids must be unique")
        first[question.qid] = row.where
        questions.append(question)
    if not questions:
        raise SevilaError(f"{path}: no questions; expected {CUSTOM_FORMAT}")
    return questions


def _video_rank(video: str) -> str:
    return hashlib.blake2b(video.encode(), digest_size=8).hexdigest()


def assign_splits(questions: list[CustomQuestion], val_fraction: float, source: str) -> dict[str, list[QARecord]]:
    """Records per split: the file's `split` column, or else the `val_fraction` of the videos ranked first by a hash
    of their name (at least one video when there are two or more) for val and the rest for train. With no test rows
    the test split is the val split."""
    given = [q.split is not None for q in questions]
    if any(given) and not all(given):
        bare = next(q.qid for q in questions if q.split is None)
        raise SevilaError(f"{source}: qid {bare} has no 'split' but other rows have one; give every row a split "
                          "(train, val or test) or none")
    if all(given):
        splits = {name: [q.record for q in questions if q.split == name] for name in SPLITS}
    else:
        videos = sorted({q.record.video for q in questions}, key=_video_rank)
        count = max(1, round(val_fraction * len(videos))) if len(videos) > 1 and val_fraction > 0 else 0
        held_out = set(videos[:count])
        splits = {"train": [q.record for q in questions if q.record.video not in held_out],
                  "val": [q.record for q in questions if q.record.video in held_out], "test": []}
    if not splits["test"]:
        splits["test"] = splits["val"]
    return splits
