"""One row of each official release -> one SeViLA-format dict (sevila-method.md §8); bad fields raise RecordError.

Texts are those of the original preprocessing notebook (`sevila_data/Data Preprocess.ipynb`, recipe §8), byte
for byte: NExT-QA options get "." and questions "?" appended always, even after a space or an existing "?";
every other text is kept as it is. With `tidy` (`sevila prepare --tidy-text`) question and option texts lose
surrounding whitespace and NExT-QA's marks are appended only when missing. Row-numbered qids (`TVQA_i`,
`HOW2QA_i`) count the file's rows from 0, blank lines excluded, so they stay stable when `--skip-invalid`
drops rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sevila.benchmarks import BENCHMARKS
from sevila.data.annotations import RecordError

NEXTQA_OPTIONS = BENCHMARKS["nextqa"].num_options
TVQA_OPTIONS = BENCHMARKS["tvqa"].num_options
HOW2QA_OPTIONS = BENCHMARKS["how2qa"].num_options
VLEP_OPTIONS = BENCHMARKS["vlep"].num_options
EVENT_PREFIX = BENCHMARKS["vlep"].qid_prefix


def nextqa_row(index: int, row: Mapping[str, Any], video_map: Mapping[str, str], tidy: bool = False) -> dict[str, Any]:
    """NExT-QA csv row: video via the id map, qid `<type>_<video>_<qid>`, `?` and `.` appended (see the module)."""
    video_id = _text(row, "video").strip()
    if video_id not in video_map:
        expected = "expected a key of map_vid_vidorID.json"
        raise RecordError("video", f"video {video_id!r} is not in the video id map; {expected}")
    qid = f"{_text(row, 'type').strip()}_{video_id}_{_text(row, 'qid').strip()}"
    options = [_with_ending(_text(row, f"a{i}"), ".", tidy) for i in range(NEXTQA_OPTIONS)]
    record = _qa(qid, video_map[video_id], _with_ending(_text(row, "question"), "?", tidy), options, tidy)
    record["answer"] = _index(row, "answer", NEXTQA_OPTIONS)
    return record


def star_row(index: int, row: Mapping[str, Any], tidy: bool = False) -> dict[str, Any]:
    """STAR official record: qid = question_id, answer = index of the choice whose text equals `answer`."""
    choices = row.get("choices")
    valid = isinstance(choices, list) and all(isinstance(c, dict) and isinstance(c.get("choice"), str) for c in choices)
    if not valid:
        raise RecordError("choices", f"'choices' is {choices!r}; expected a list of {{\"choice\": text}} objects")
    texts = [choice["choice"] for choice in choices]
    answer = _text(row, "answer")
    matches = [i for i, text in enumerate(texts) if text == answer]
    if len(matches) != 1:
        found = "no choice" if not matches else f"{len(matches)} choices"
        raise RecordError("answer", f"'answer' {answer!r} equals {found}; expected exactly one of {texts}")
    record = _qa(_text(row, "question_id").strip(), _text(row, "video_id").strip(), _text(row, "question"), texts, tidy)
    record.update(answer=matches[0], start=_seconds(row, "start"), end=_seconds(row, "end"))
    return record


def tvqa_row(index: int, row: Mapping[str, Any], tidy: bool = False) -> dict[str, Any]:
    """TVQA jsonl row: qid `TVQA_<row>`, 5 options, clip from `ts "s-e"`, `"NaN-NaN"` = the whole clip."""
    return _tvqa_style_row(index, row, BENCHMARKS["tvqa"].qid_prefix, TVQA_OPTIONS, True, tidy)


def how2qa_jsonl_row(index: int, row: Mapping[str, Any], tidy: bool = False) -> dict[str, Any]:
    """How2QA jsonl row (the TVQA layout with 4 options): qid `HOW2QA_<row>`, its clip span is required."""
    return _tvqa_style_row(index, row, BENCHMARKS["how2qa"].qid_prefix, HOW2QA_OPTIONS, False, tidy)


def _tvqa_style_row(
    index: int, row: Mapping[str, Any], prefix: str, num_option: int, whole_if_nan: bool, tidy: bool
) -> dict[str, Any]:
    options = [_text(row, f"a{i}") for i in range(num_option)]
    record = _qa(f"{prefix}_{index}", _text(row, "vid_name").strip(), _text(row, "q"), options, tidy)
    if "answer_idx" not in row:
        fix = "(the test split is unlabelled); convert train or val"
        raise RecordError("answer_idx", f"missing field 'answer_idx' {fix}")
    record["answer"] = _index(row, "answer_idx", num_option)
    # TVQA has `ts "NaN-NaN"` rows; the original reader fails on them and silently uses a random other
    # question instead, so with `whole_if_nan` such a question gets no span: the whole clip.
    start, end = _span_text(row, "ts", "-", whole_if_nan)
    if start is not None:
        record.update(start=start, end=end)
    return record


def how2qa_csv_row(index: int, row: Mapping[str, Any], tidy: bool = False) -> dict[str, Any]:
    """How2QA official csv row (no header: video_id, "[s:e]", 3 wrong answers, question, correct answer)."""
    options = [_text(row, name) for name in ("wrong1", "wrong2", "wrong3")]
    # The csv always lists the correct answer last; inserting it at row % 4 keeps the conversion
    # reproducible and the answer positions balanced.
    position = index % HOW2QA_OPTIONS
    options.insert(position, _text(row, "answer"))
    qid = f"{BENCHMARKS['how2qa'].qid_prefix}_{index}"
    record = _qa(qid, _text(row, "video_id").strip(), _text(row, "question"), options, tidy)
    start, end = _span_text(row, "timesteps", ":", whole_if_nan=False)
    record.update(answer=position, start=start, end=end)
    return record


def vlep_row(index: int, row: Mapping[str, Any], tidy: bool = False) -> dict[str, Any]:
    """VLEP jsonl row: qid `VLEP_<example_id>`, the two events are the options, no question."""
    example_id = row.get("example_id")
    if example_id is None:
        raise RecordError("example_id", "missing field 'example_id'")
    if isinstance(example_id, bool) or not isinstance(example_id, (int, str)) or not str(example_id).strip():
        raise RecordError("example_id", f"'example_id' is {example_id!r}; expected the example id (int)")
    events = _pair(row, "events", "a list of the 2 candidate events")
    ts = _pair(row, "ts", "[start, end] in seconds")
    if "answer" not in row:
        raise RecordError("answer", "missing field 'answer' (the test split is unlabelled); convert train or dev")
    start, end = (_seconds({"ts": bound}, "ts") for bound in ts)
    options = [_text({f"events[{i}]": event}, f"events[{i}]") for i, event in enumerate(events)]
    record = _qa(f"{EVENT_PREFIX}_{example_id}", _text(row, "vid_name").strip(), "", options, tidy)
    record.update(answer=_index(row, "answer", VLEP_OPTIONS), start=start, end=end)
    return record


def qvhighlights_row(index: int, row: Mapping[str, Any], tidy: bool = False) -> Mapping[str, Any]:
    """QVHighlights jsonl row, as it is: the moment validator reads `vid` and makes qid `QVHighlight_<qid>`."""
    return row


def _qa(qid: str, video: str, question: str, options: list[str], tidy: bool) -> dict[str, Any]:
    def text(value: str) -> str:
        return value.strip() if tidy else value

    record: dict[str, Any] = {"video": video, "qid": qid, "question": text(question), "num_option": len(options)}
    record.update({f"a{i}": text(option) for i, option in enumerate(options)})
    return record


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if value is None:
        raise RecordError(name, f"missing field '{name}'")
    if not isinstance(value, str):
        raise RecordError(name, f"'{name}' is {value!r} ({type(value).__name__}); expected text")
    return value


def _pair(row: Mapping[str, Any], name: str, expected: str) -> list[Any]:
    value = row.get(name)
    if value is None:
        raise RecordError(name, f"missing field '{name}'; expected {expected}")
    if not isinstance(value, list) or len(value) != 2:
        raise RecordError(name, f"'{name}' is {value!r}; expected {expected}")
    return value


def _with_ending(text: str, mark: str, tidy: bool) -> str:
    """The notebook's `text + mark`; tidied: stripped, and the mark only where missing.

    Blank text stays as it is, so the record check refuses it (pandas reads it as NaN and the notebook fails).
    """
    if not text.strip():
        return text
    if not tidy:
        return text + mark
    text = text.strip()
    return text if text.endswith(mark) else text + mark


def _index(row: Mapping[str, Any], name: str, count: int) -> int:
    """An option index, given as an int (JSON) or as digits (CSV)."""
    value = row.get(name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(name, f"'{name}' is {value!r}; expected the index of the correct option, 0..{count - 1}")
    if not 0 <= value < count:
        raise RecordError(name, f"'{name}' is {value} but there are {count} options; expected 0..{count - 1}")
    return value


def _seconds(row: Mapping[str, Any], name: str) -> float:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordError(name, f"'{name}' is {value!r}; expected a finite number of seconds")
    return float(value)


def _span_text(
    row: Mapping[str, Any], name: str, separator: str, whole_if_nan: bool
) -> tuple[float | None, float | None]:
    """Parse `"s-e"` (TVQA, How2QA jsonl) or `"[s:e]"` (How2QA csv) into seconds."""
    text = _text(row, name)
    parts = text.strip().removeprefix("[").removesuffix("]").split(separator)
    try:
        start, end = (float(part) for part in parts)
    except ValueError:
        example = "[12.5:30.0]" if separator == ":" else "12.5-30.0"
        raise RecordError(name, f"'{name}' is {text!r}; expected seconds as {example!r}") from None
    if whole_if_nan and math.isnan(start) and math.isnan(end):
        return None, None
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RecordError(name, f"'{name}' is {text!r}; expected finite seconds (this question needs its clip)")
    return start, end
