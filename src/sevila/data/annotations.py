"""Annotation records and readers of the SeViLA-format JSON (sevila-method.md §8), with strict validation."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sevila.benchmarks import BENCHMARKS, MAX_OPTIONS, OFFICIAL, benchmark
from sevila.data.raw_files import RawRow, json_list_rows, jsonl_rows, read_text
from sevila.errors import SevilaError

DATASETS: tuple[str, ...] = OFFICIAL  # the benchmarks with an official release to convert
EVENT_QTYPE = BENCHMARKS["vlep"].qid_prefix  # event prediction has no question text (§2, §8)
MOMENT_QID_PREFIX = BENCHMARKS["qvhighlights"].qid_prefix + "_"

QA_FORMAT = "a JSON list of QA records {video, qid, question, num_option, a0..a4, answer, start?, end?}"
MOMENT_FORMAT = "a JSON list or JSON Lines of QVHighlights records {qid, query, duration, video|vid, relevant_windows?}"

_Record = TypeVar("_Record")
Windows = tuple[tuple[float, float], ...]


class RecordError(ValueError):
    """One field of one record is wrong; the message says what was found, what was expected and the fix."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class QARecord:
    """One multiple-choice question about one video (or its `[start, end]` seconds), with its evidence windows."""

    qid: str
    video: str
    question: str
    options: tuple[str, ...]
    answer: int
    start: float | None
    end: float | None
    qtype: str
    # NExT-GQA: ground-truth evidence windows in seconds of the video, and the video's length.
    windows: Windows = ()
    duration: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The record in the SeViLA JSON format."""
        data: dict[str, Any] = {"video": self.video, "qid": self.qid, "question": self.question}
        data["num_option"] = len(self.options)
        data.update({f"a{index}": option for index, option in enumerate(self.options)})
        data["answer"] = self.answer
        if self.start is not None:
            data.update(start=self.start, end=self.end)
        if self.windows:
            data.update(duration=self.duration, windows=[list(window) for window in self.windows])
        return data


@dataclass(frozen=True)
class MomentRecord:
    """One QVHighlights text query with its relevant windows in seconds (none on the test split)."""

    qid: str
    video: str
    query: str
    duration: float
    windows: tuple[tuple[float, float], ...]

    def to_json(self) -> dict[str, Any]:
        """The record in the SeViLA JSON format; the test split keeps no `relevant_windows` key."""
        data: dict[str, Any] = {"video": self.video, "qid": self.qid, "query": self.query, "duration": self.duration}
        if self.windows:
            data["relevant_windows"] = [list(window) for window in self.windows]
        return data


def check_dataset(name: str) -> str:
    """Return `name` if it is one of the benchmarks with an official release, else raise an error listing them."""
    return benchmark(name, DATASETS).name


def qid_type(qid: str) -> str:
    """The question type of a qid: its prefix before the first `_` (§8)."""
    return qid.split("_", 1)[0]


def qa_record_from_dict(raw: Mapping[str, Any]) -> QARecord:
    """Validate one SeViLA-format QA record; a bad field raises RecordError."""
    qid = _text(raw, "qid", "a unique question id such as CW_123_4")
    qtype = qid_type(qid)
    if qtype == EVENT_QTYPE and "question" not in raw:
        question = ""
    else:
        question = _text(raw, "question", "the question text", allow_empty=qtype == EVENT_QTYPE)
    num_option = _integer(raw, "num_option", "the number of options, 2..5")
    options = _options(raw, num_option)
    answer = _answer(raw, num_option)
    start, end = _span(raw)
    video = _text(raw, "video", "the video name or relative path")
    windows, duration = _evidence(raw)
    return QARecord(qid, video, question, options, answer, start, end, qtype, windows, duration)


def moment_record_from_dict(raw: Mapping[str, Any]) -> MomentRecord:
    """Validate one QVHighlights record (SeViLA JSON or official jsonl); a bad field raises RecordError."""
    qid = _moment_qid(raw)
    video_key = "video" if "video" in raw or "vid" not in raw else "vid"
    video = _text(raw, video_key, "the video name, e.g. NUsG9BgSes0_210.0_360.0")
    query = _text(raw, "query", "the text query")
    duration = _number(raw, "duration", "the video length in seconds, > 0")
    if duration <= 0:
        raise RecordError("duration", f"'duration' is {duration}; expected the video length in seconds, > 0")
    return MomentRecord(qid, video, query, duration, _windows(raw, duration))


def read_qa_annotations(path: str | Path) -> list[QARecord]:
    """Read and validate a SeViLA-format QA file (one JSON list per split)."""
    rows = json_list_rows(path, QA_FORMAT)
    records = _parse_rows(path, rows, qa_record_from_dict)
    _reject_duplicates(path, [record.qid for record in records], [row.where for row in rows])
    return records


def read_moment_annotations(path: str | Path) -> list[MomentRecord]:
    """Read and validate QVHighlights annotations: a SeViLA JSON list or the official jsonl."""
    text = read_text(path, MOMENT_FORMAT)
    is_list = text.lstrip().startswith("[")
    rows = json_list_rows(path, MOMENT_FORMAT, text) if is_list else jsonl_rows(path, MOMENT_FORMAT, text)
    records = _parse_rows(path, rows, moment_record_from_dict)
    _reject_duplicates(path, [record.qid for record in records], [row.where for row in rows])
    return records


def _describe(path: str | Path, where: str, raw: Mapping[str, Any] | None) -> str:
    qid = raw.get("qid") if isinstance(raw, Mapping) else None
    return f"{path}: {where}" + (f" (qid {qid})" if isinstance(qid, (str, int)) else "")


def _parse_rows(path: str | Path, rows: list[RawRow], parse: Callable[[Mapping[str, Any]], _Record]) -> list[_Record]:
    records = []
    for row in rows:
        if row.value is None:
            raise SevilaError(f"{path}: {row.where}: {row.error}")
        try:
            records.append(parse(row.value))
        except RecordError as error:
            raise SevilaError(f"{_describe(path, row.where, row.value)}: {error}") from None
    return records


def _reject_duplicates(path: str | Path, qids: list[str], wheres: list[str]) -> None:
    first: dict[str, str] = {}
    for qid, where in zip(qids, wheres):
        if qid in first:
            message = f"duplicate qid, first used at {first[qid]}; qids must be unique"
            raise SevilaError(f"{path}: {where} (qid {qid}): {message}")
        first[qid] = where


def _require(raw: Mapping[str, Any], field: str, expected: str) -> Any:
    if field not in raw or raw[field] is None:
        raise RecordError(field, f"missing field '{field}'; expected {expected}")
    return raw[field]


def _text(raw: Mapping[str, Any], field: str, expected: str, allow_empty: bool = False) -> str:
    value = _require(raw, field, expected)
    if not isinstance(value, str):
        raise RecordError(field, f"'{field}' is {value!r} ({type(value).__name__}); expected a string: {expected}")
    if not allow_empty and not value.strip():
        raise RecordError(field, f"'{field}' is empty; expected {expected}")
    return value


def _integer(raw: Mapping[str, Any], field: str, expected: str) -> int:
    value = _require(raw, field, expected)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(field, f"'{field}' is {value!r} ({type(value).__name__}); expected an integer: {expected}")
    return value


def _number(raw: Mapping[str, Any], field: str, expected: str) -> float:
    """A finite number; numeric strings are accepted because the released SeViLA TVQA json stores times as strings."""
    value = _require(raw, field, expected)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RecordError(field, f"'{field}' is {value!r} ({type(value).__name__}); expected a number: {expected}")
    try:
        number = float(value)
    except ValueError:
        raise RecordError(field, f"'{field}' is {value!r}; expected a number: {expected}") from None
    if not math.isfinite(number):
        raise RecordError(field, f"'{field}' is {value!r}; expected a finite number: {expected}")
    return number


def _options(raw: Mapping[str, Any], num_option: int) -> tuple[str, ...]:
    if not 2 <= num_option <= MAX_OPTIONS:
        raise RecordError("num_option", f"'num_option' is {num_option}; expected 2..{MAX_OPTIONS}")
    filled = []
    for index in range(MAX_OPTIONS):
        value = raw.get(f"a{index}")
        if value is not None and not isinstance(value, str):
            raise RecordError(f"a{index}", f"'a{index}' is {value!r} ({type(value).__name__}); expected option text")
        if value is not None and value.strip():
            filled.append(index)
    if filled != list(range(num_option)):
        names = ",".join(f"a{index}" for index in filled) or "none"
        raise RecordError(
            "num_option",
            f"'num_option' is {num_option} but the non-empty options are {names}; "
            f"expected exactly a0..a{num_option - 1}: fix num_option or fill the options",
        )
    return tuple(raw[f"a{index}"] for index in range(num_option))


def _answer(raw: Mapping[str, Any], num_option: int) -> int:
    if "answer" not in raw or raw["answer"] is None:
        raise RecordError(
            "answer",
            "missing field 'answer'; expected the index of the correct option "
            "(an unlabelled test split cannot be used: training and accuracy need the gold answer)",
        )
    answer = _integer(raw, "answer", f"the index of the correct option, 0..{num_option - 1}")
    if not 0 <= answer < num_option:
        expected = f"expected 0..{num_option - 1}"
        raise RecordError("answer", f"'answer' is {answer} but num_option is {num_option}; {expected}")
    return answer


def _span(raw: Mapping[str, Any]) -> tuple[float | None, float | None]:
    has_start, has_end = raw.get("start") is not None, raw.get("end") is not None
    if not has_start and not has_end:
        return None, None
    if has_start != has_end:
        given, absent = ("start", "end") if has_start else ("end", "start")
        fix = "give both (seconds) or neither (whole video)"
        raise RecordError(absent, f"'{given}' is given but '{absent}' is missing; {fix}")
    hint = "seconds >= 0, or drop both 'start' and 'end' to use the whole video"
    start, end = _number(raw, "start", hint), _number(raw, "end", hint)
    for field, value in (("start", start), ("end", end)):
        if value < 0:
            raise RecordError(field, f"'{field}' is {value}; expected {hint}")
    if start > end:
        raise RecordError("start", f"'start' {start} is after 'end' {end}; expected start <= end: swap them")
    return start, end


def _checked_windows(name: str, value: list[Any], fits: Callable[[float, float], bool], expected: str) -> Windows:
    """Each `[start, end]` (seconds) of the list field `name`; a window that does not `fit` is an error."""
    windows = []
    for index, window in enumerate(value):
        field = f"{name}[{index}]"
        if not isinstance(window, list) or len(window) != 2:
            raise RecordError(field, f"'{field}' is {window!r}; expected [start, end] in seconds")
        start, end = (_number({field: bound}, field, "seconds") for bound in window)
        if not fits(start, end):
            raise RecordError(field, f"'{field}' is {window!r}; expected {expected}")
        windows.append((start, end))
    return tuple(windows)


def _evidence(raw: Mapping[str, Any]) -> tuple[Windows, float | None]:
    """Optional evidence `windows` (seconds) with the video `duration` they need; each must overlap the video."""
    given = [raw.get(name) is not None for name in ("windows", "duration")]
    if not any(given):
        return (), None
    if not all(given):
        raise RecordError("windows", "'windows' and 'duration' come together; give both (seconds) or neither")
    duration, value = _number(raw, "duration", "the video length in seconds, > 0"), raw["windows"]
    if duration <= 0 or not isinstance(value, list) or not value:
        expected = "a non-empty list of [start, end] seconds and the video's duration > 0"
        raise RecordError("windows", f"'windows' is {value!r:.60} with duration {duration}; expected {expected}")
    # NExT-GQA's windows may start below 0 or end past its rounded duration: only wholly outside is wrong.
    expected = f"start <= end, overlapping the video 0..{duration} s (seconds, not frames)"
    windows = _checked_windows("windows", value, lambda s, e: s <= e and e >= 0 and s <= duration, expected)
    return windows, duration


def _moment_qid(raw: Mapping[str, Any]) -> str:
    """Official QVHighlights qids are integers; they become `QVHighlight_<qid>` as in the SeViLA format (§8)."""
    value = _require(raw, "qid", "the query id")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{MOMENT_QID_PREFIX}{value}"
    return _text(raw, "qid", "the query id, e.g. QVHighlight_2579 or 2579")


def _windows(raw: Mapping[str, Any], duration: float) -> Windows:
    value = raw.get("relevant_windows")
    if value is None:
        return ()
    if not isinstance(value, list):
        expected = "expected a list of [start, end] seconds"
        raise RecordError("relevant_windows", f"'relevant_windows' is {value!r}; {expected}")
    expected = f"0 <= start <= end <= duration ({duration})"
    return _checked_windows("relevant_windows", value, lambda start, end: 0 <= start <= end <= duration, expected)
