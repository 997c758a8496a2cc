"""Each benchmark's official table from answered questions: what `sevila metrics` prints and `Evaluate` writes."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sevila.benchmarks import Benchmark
from sevila.errors import SevilaError
from sevila.io import write_json
from sevila.metrics.accuracy import QARow, accuracy_by_type, nextqa_metrics, star_metrics
from sevila.metrics.exports import write_nextqa_results, write_vlep_submission
from sevila.metrics.grounding import Window, nextgqa_metrics
from sevila.metrics.grounding_formats import question_key

QA_TABLES: dict[str, Callable[[list[QARow]], dict[str, float]]] = {
    "accuracy": accuracy_by_type,
    "nextqa": nextqa_metrics,
    "star": star_metrics,
}
SUBMISSION_WRITERS: dict[str, Callable[[str | os.PathLike[str], list[QARow]], None]] = {
    "nextqa": write_nextqa_results,
    "vlep": write_vlep_submission,
}


def check_options(benchmark: Benchmark, rows: Sequence[QARow], source: str) -> None:
    """Every prediction and answer is an option index of the benchmark; `source` names the file in the error."""
    count = benchmark.num_options
    for row in rows:
        if not (0 <= row.prediction < count and 0 <= row.target < count):
            raise SevilaError(
                f"{source}: qid {row.qid!r}: prediction {row.prediction} / answer {row.target} "
                f"is outside 0..{count - 1} ({benchmark.name} has {count} options, indexed from 0)"
            )


def qa_table(benchmark: Benchmark, rows: Sequence[QARow]) -> dict[str, float]:
    """The benchmark's official accuracy table (NExT-QA groups, STAR mean, or accuracy per question type)."""
    if benchmark.metric not in QA_TABLES:
        kind = "moment retrieval" if benchmark.metric == "moments" else "grounded QA (`grounding_table`)"
        raise SevilaError(f"{benchmark.name} is scored by {kind}, not by answer accuracy alone")
    return QA_TABLES[benchmark.metric](list(rows))


def grounding_table(
    truths: Mapping[str, Sequence[Window]], rows: Sequence[QARow], windows: Mapping[str, Sequence[float]], source: str
) -> dict[str, Any]:
    """NExT-GQA's official metrics and counts (`sevila metrics nextgqa`) of answered rows with windows, by our qids.

    `truths` maps our qids to the ground-truth windows; questions are matched by `<video>_<qid>` as officially.
    """
    keys = {qid: question_key(source, "record", qid) for qid in truths}
    correct = {keys[row.qid]: row.prediction == row.target for row in rows if row.qid in keys}
    predicted = {keys[qid]: window for qid, window in windows.items() if qid in keys}
    try:
        return nextgqa_metrics({keys[qid]: w for qid, w in truths.items()}, predicted, correct).to_json()
    except ValueError as error:
        raise SevilaError(f"{source}: {error}") from None


def write_grounding_files(folder: str | os.PathLike[str], rows: Sequence[QARow], windows: Mapping[str, Any]) -> None:
    """NExT-GQA's official prediction files: `nextgqa_ground.json` {key: [s, e]} and `nextgqa_res.json` {key:
    {prediction, answer}}, keyed `<video>_<qid>` as eval_ground.py and eval_next.py read them."""
    folder = Path(folder)
    keys = {row.qid: question_key(str(folder), "row", row.qid) for row in rows}
    write_json(folder / "nextgqa_ground.json", {keys[qid]: list(window) for qid, window in windows.items()})
    write_json(folder / "nextgqa_res.json", {keys[r.qid]: {"prediction": r.prediction, "answer": r.target} for r in rows})


def score(benchmark: Benchmark, rows: Sequence[QARow], source: str, hint: str = "") -> dict[str, float]:
    """Check the rows' option indices, then the official table; a qid the table cannot place names `source`."""
    check_options(benchmark, rows, source)
    try:
        return qa_table(benchmark, rows)
    except ValueError as error:
        raise SevilaError(f"{source}: {error}{hint}") from None


def check_scorable(benchmark: Benchmark, truths: Mapping[str, Sequence[Window]], source: str) -> None:
    """Fail before any work if the official table cannot be made from these questions (unknown type, a STAR
    category with no question, NExT-GQA records without windows): the same table function on placeholder answers.

    `truths` maps each qid to its ground-truth windows (empty where the benchmark has none).
    """
    placeholders = [QARow(qid, 0, 0) for qid in truths]
    if benchmark.metric != "grounding":
        score(benchmark, placeholders, source)
        return
    bare = next((qid for qid, windows in truths.items() if not windows), None)
    if bare is not None:
        raise SevilaError(
            f"{source}: qid {bare} has no 'windows'; NExT-GQA evaluation needs the evidence windows: convert the "
            "split with `sevila prepare nextgqa --grounding gsub_<split>.json`"
        )
    grounding_table(truths, placeholders, {qid: (0.0, 0.0) for qid in truths}, source)


def write_submission(benchmark: Benchmark, path: str | os.PathLike[str], rows: Sequence[QARow]) -> None:
    """The benchmark's official submission file of these rows (NExT-QA results json, VLEP jsonl)."""
    if benchmark.name not in SUBMISSION_WRITERS:
        raise SevilaError(
            f"--export: {benchmark.name} has no official submission format (only {sorted(SUBMISSION_WRITERS)})"
        )
    SUBMISSION_WRITERS[benchmark.name](path, list(rows))
