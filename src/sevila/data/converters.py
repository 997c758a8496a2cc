"""Official annotation releases -> SeViLA-format records (sevila-method.md §8), what `sevila prepare` runs."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sevila.data import nextgqa, raw_formats
from sevila.data.annotations import (
    MomentRecord,
    QARecord,
    RecordError,
    check_dataset,
    moment_record_from_dict,
    qa_record_from_dict,
)
from sevila.data.raw_files import RawRow, csv_rows, json_list_rows, jsonl_rows
from sevila.errors import SevilaError

logger = logging.getLogger(__name__)

RowConverter = Callable[[int, Mapping[str, Any]], Mapping[str, Any]]

NEXTQA_COLUMNS = ("video", "question", "answer", "qid", "type", "a0", "a1", "a2", "a3", "a4")
HOW2QA_CSV_COLUMNS = ("video_id", "timesteps", "wrong1", "wrong2", "wrong3", "question", "answer")


@dataclass(frozen=True)
class Problem:
    """One official row that could not be converted: where it is, which field, and why."""

    file: str
    where: str
    qid: str | None
    field: str | None
    message: str
    row: Mapping[str, Any] | None = None

    def __str__(self) -> str:
        qid = f" (qid {self.qid})" if self.qid else ""
        return f"{self.file}: {self.where}{qid}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The problem as one line of the `--skip-invalid` report."""
        return {"file": self.file, "where": self.where, "qid": self.qid, "field": self.field,
                "message": self.message, "row": self.row}


@dataclass(frozen=True)
class Conversion:
    """The records converted from one file and, with `skip_invalid`, the rows left out."""

    records: list[QARecord | MomentRecord]
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        """The records as the SeViLA JSON list."""
        return [record.to_json() for record in self.records]


def convert(
    dataset: str,
    path: str | Path,
    video_map: Mapping[str, str] | None = None,
    skip_invalid: bool = False,
    grounding: str | Path | None = None,
    tidy_text: bool = False,
) -> Conversion:
    """Convert one official file of `dataset` (`grounding`: NExT-GQA's gsub); bad rows raise unless `skip_invalid`.

    Texts are the original notebook's, byte for byte; `tidy_text` strips them instead (`sevila.data.raw_formats`).
    """
    if dataset == "nextgqa":
        rows, to_dict = nextgqa.source(Path(path), video_map, grounding, tidy_text)
    else:
        rows, to_dict = _source(check_dataset(dataset), Path(path), video_map)
        to_dict = functools.partial(to_dict, tidy=tidy_text)
    parse = moment_record_from_dict if dataset == "qvhighlights" else qa_record_from_dict
    conversion = _convert_rows(Path(path), rows, to_dict, parse, skip_invalid)
    if dataset == "tvqa":
        whole = sum(1 for record in conversion.records if isinstance(record, QARecord) and record.start is None)
        if whole:
            logger.info("%s: %d question(s) have ts 'NaN-NaN' and use the whole clip", path, whole)
    return conversion


def _source(dataset: str, path: Path, video_map: Mapping[str, str] | None) -> tuple[list[RawRow], RowConverter]:
    """The raw rows of `path` and the function that turns one into a SeViLA-format dict."""
    if dataset == "nextqa":
        if video_map is None:
            raise SevilaError("nextqa needs the video id map: pass --video-map map_vid_vidorID.json (NExT-QA release)")
        rows = csv_rows(path, NEXTQA_COLUMNS, header=True)
        return rows, functools.partial(raw_formats.nextqa_row, video_map=video_map)
    if dataset == "star":
        return json_list_rows(path, "the official STAR JSON list"), raw_formats.star_row
    if dataset == "how2qa" and path.suffix.lower() == ".csv":
        return csv_rows(path, HOW2QA_CSV_COLUMNS, header=False), raw_formats.how2qa_csv_row
    expected = f"official {dataset} JSON Lines"
    converters: dict[str, RowConverter] = {
        "how2qa": raw_formats.how2qa_jsonl_row,
        "tvqa": raw_formats.tvqa_row,
        "vlep": raw_formats.vlep_row,
        "qvhighlights": raw_formats.qvhighlights_row,
    }
    return jsonl_rows(path, expected), converters[dataset]


def _convert_rows(
    path: Path,
    rows: list[RawRow],
    to_dict: RowConverter,
    parse: Callable[[Mapping[str, Any]], QARecord | MomentRecord],
    skip_invalid: bool,
) -> Conversion:
    records: list[QARecord | MomentRecord] = []
    problems: list[Problem] = []
    first: dict[str, str] = {}
    for index, row in enumerate(rows):
        data: Mapping[str, Any] | None = None
        try:
            if row.value is None:
                raise RecordError(None, str(row.error))
            data = to_dict(index, row.value)
            record = parse(data)
            if record.qid in first:
                raise RecordError("qid", f"duplicate qid, first used at {first[record.qid]}; qids must be unique")
        except RecordError as error:
            qid = None if data is None or data.get("qid") is None else str(data["qid"])
            problem = Problem(str(path), row.where, qid, error.field, str(error), row.value)
            if not skip_invalid:
                raise SevilaError(str(problem)) from None
            problems.append(problem)
            continue
        first[record.qid] = row.where
        records.append(record)
    return Conversion(records, problems)
