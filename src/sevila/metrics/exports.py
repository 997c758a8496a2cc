"""Writers of the official submission formats from our rows (atomic, via `sevila.io`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

from sevila.benchmarks import BENCHMARKS
from sevila.io import write_json, write_jsonl
from sevila.metrics.accuracy import NEXTQA_TYPE_ALIASES, NEXTQA_TYPES, QARow, question_type
from sevila.metrics.moments import rank_windows

QVHIGHLIGHTS_PREFIX = BENCHMARKS["qvhighlights"].qid_prefix
VLEP_PREFIX = BENCHMARKS["vlep"].qid_prefix


def _official_id(qid: str, prefix: str) -> int:
    """The integer id of a qid `<prefix>_<id>` (sevila-method.md §8)."""
    head, _, tail = qid.partition("_")
    if head != prefix or not tail.isdigit():
        raise ValueError(f"qid {qid!r} is not '{prefix}_<integer id>'")
    return int(tail)


def write_nextqa_results(path: str | os.PathLike[str], rows: Iterable[QARow]) -> None:
    """Write NExT-QA's results JSON `{"<video>_<qid>": {"prediction", "answer"}}` from `<type>_<video>_<qid>` rows."""
    results: dict[str, dict[str, int]] = {}
    for row in rows:
        fine = question_type(row.qid)
        key = row.qid.partition("_")[2]
        if NEXTQA_TYPE_ALIASES.get(fine, fine) not in NEXTQA_TYPES or key.count("_") != 1:
            raise ValueError(f"qid {row.qid!r} is not a NExT-QA qid '<type>_<video>_<qid>'")
        if key in results:
            raise ValueError(f"qid {row.qid!r}: question {key!r} appears twice")
        results[key] = {"prediction": row.prediction, "answer": row.target}
    write_json(path, results)


def write_vlep_submission(path: str | os.PathLike[str], rows: Iterable[QARow]) -> None:
    """Write a VLEP submission jsonl `{"example_id", "pred_ans"}` from rows with qids `VLEP_<example_id>`."""
    lines = [{"example_id": _official_id(row.qid, VLEP_PREFIX), "pred_ans": row.prediction} for row in rows]
    ids = [line["example_id"] for line in lines]
    if len(set(ids)) != len(ids):
        raise ValueError("a VLEP example appears twice in the rows; each must appear once")
    write_jsonl(path, lines)


def _scored_windows(qid: str, windows: Sequence[Sequence[float]]) -> list[list[float]]:
    for window in windows:
        if len(window) != 3 or window[0] > window[1]:
            raise ValueError(f"qid {qid!r}: window {list(window)} is not [start, end, score] with start <= end")
    # Sorted because the official evaluation reads the first listed window as top-1.
    return [[float(x) for x in window] for window in rank_windows(windows, len(windows))]


def write_moment_submission(path: str | os.PathLike[str], moments: Mapping[str, Sequence[Sequence[float]]]) -> None:
    """Write a Moment-DETR submission jsonl `{"qid", "pred_relevant_windows"}`, windows by descending score."""
    lines = [
        {"qid": _official_id(qid, QVHIGHLIGHTS_PREFIX), "pred_relevant_windows": _scored_windows(qid, windows)}
        for qid, windows in moments.items()
    ]
    write_jsonl(path, lines)
