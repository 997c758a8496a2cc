"""NExT-GQA: its ground-truth file `gsub_<split>.json` and its csv rows -> SeViLA-format records with windows.

NExT-GQA (Xiao et al., CVPR 2024) adds evidence windows in seconds to NExT-QA questions. Its csv is
NExT-QA's with `video_id` for `video` and the correct option's *text* in `answer`; a record gets the
NExT-QA conversion (qid `<type>_<video>_<qid>`, `?` and `.` endings) plus the question's `windows`
and the video's `duration` from gsub, both as published (a few windows start below 0 or end past
the rounded integer duration; the official scorer uses them as they are).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sevila.data import raw_formats
from sevila.data.annotations import RecordError
from sevila.data.raw_files import RawRow, csv_rows, json_type, load_json
from sevila.errors import SevilaError

COLUMNS = ("video_id", "question", "answer", "qid", "type", *(f"a{i}" for i in range(raw_formats.NEXTQA_OPTIONS)))
GSUB_FORMAT = 'NExT-GQA gsub JSON {"<video>": {"duration": s, "location": {"<qid>": [[start, end], ...]}}}'

Window = tuple[float, float]
RowConverter = Callable[[int, Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class GsubVideo:
    """One video of a gsub file: its length in whole seconds and the windows of each of its questions."""

    duration: float
    location: dict[str, tuple[Window, ...]]


def read_gsub(path: str | Path) -> dict[str, GsubVideo]:
    """Read `gsub_<split>.json` in file order; every question needs at least one `[start, end]` with start <= end."""
    data = load_json(path, GSUB_FORMAT)
    if not isinstance(data, dict):
        raise SevilaError(f"{path}: the top-level JSON value is {json_type(data)}; expected {GSUB_FORMAT}")
    return {str(video): _gsub_video(path, str(video), entry) for video, entry in data.items()}


def _gsub_video(path: str | Path, video: str, entry: Any) -> GsubVideo:
    where = f"{path}: video {video!r}"
    if not isinstance(entry, dict) or not isinstance(entry.get("location"), dict):
        raise SevilaError(f"{where}: expected an object with 'duration' and a 'location' object; {GSUB_FORMAT}")
    duration = entry.get("duration")
    if not _is_number(duration) or duration <= 0:
        raise SevilaError(f"{where}: 'duration' is {duration!r}; expected the video length in seconds, > 0")
    location = {qid: _gsub_windows(f"{where}: question {qid!r}", value) for qid, value in entry["location"].items()}
    return GsubVideo(float(duration), location)


def _gsub_windows(where: str, value: Any) -> tuple[Window, ...]:
    if not isinstance(value, list) or not value:
        raise SevilaError(f"{where}: windows {value!r:.60}; expected a non-empty list of [start, end] in seconds")
    windows = []
    for index, window in enumerate(value):
        if not (isinstance(window, list) and len(window) == 2 and all(map(_is_number, window))):
            expected = "expected [start, end], two numbers of seconds"
            raise SevilaError(f"{where}: window {index} is {window!r:.60}; {expected}")
        if window[0] > window[1]:
            raise SevilaError(f"{where}: window {index} is {window!r}, which ends before it starts; swap them")
        windows.append((float(window[0]), float(window[1])))
    return tuple(windows)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def source(
    path: Path, video_map: Mapping[str, str] | None, grounding: str | Path | None, tidy_text: bool = False
) -> tuple[list[RawRow], RowConverter]:
    """The csv rows of `path` and the row converter bound to the video id map and the gsub file.

    Texts follow NExT-QA's (`raw_formats.nextqa_row`): the notebook's by default, stripped with `tidy_text`.
    """
    if video_map is None:
        raise SevilaError("nextgqa needs the video id map: pass --video-map map_vid_vidorID.json (NExT-QA release)")
    if grounding is None:
        raise SevilaError("nextgqa needs the ground-truth windows: pass --grounding gsub_<split>.json (NExT-GQA)")
    gsub = read_gsub(grounding)
    converter = functools.partial(nextgqa_row, video_map=video_map, gsub=gsub, gsub_path=str(grounding), tidy=tidy_text)
    return csv_rows(path, COLUMNS, header=True), converter


def nextgqa_row(
    index: int, row: Mapping[str, Any], video_map: Mapping[str, str], gsub: Mapping[str, GsubVideo], gsub_path: str,
    tidy: bool = False,
) -> dict[str, Any]:
    """One NExT-GQA csv row -> a NExT-QA record with the answer text made an index, plus `duration` and `windows`."""
    video_id, qid = str(row["video_id"]).strip(), str(row["qid"]).strip()
    entry = gsub.get(video_id)
    if entry is None or qid not in entry.location:
        fix = "pass the gsub file of the csv's split"
        raise RecordError("qid", f"question {video_id}_{qid} has no windows in {gsub_path}; {fix}")
    nextqa = {**row, "video": video_id, "answer": str(_answer_index(row))}
    record = raw_formats.nextqa_row(index, nextqa, video_map, tidy)
    record.update(duration=entry.duration, windows=[list(window) for window in entry.location[qid]])
    return record


def _answer_index(row: Mapping[str, Any]) -> int:
    """The position of the `answer` text among a0..a4 (compared without surrounding whitespace)."""
    answer = str(row["answer"]).strip()
    options = [str(row[f"a{i}"]).strip() for i in range(raw_formats.NEXTQA_OPTIONS)]
    matches = [f"a{i}" for i, option in enumerate(options) if option == answer]
    if not matches:
        expected = "expected the text of the correct option"
        raise RecordError("answer", f"'answer' {answer!r} is none of the options {options}; {expected}")
    if len(matches) > 1:
        fix = "the answer index is ambiguous: fix the row or leave it out with --skip-invalid"
        raise RecordError("answer", f"'answer' {answer!r} equals {' and '.join(matches)}; {fix}")
    return int(matches[0][1:])
