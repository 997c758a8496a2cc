"""Each benchmark's official table from answered questions: what `sevila metrics` prints and `Evaluate` writes."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from sevila.benchmarks import Benchmark
from sevila.errors import SevilaError
from sevila.metrics.accuracy import QARow, accuracy_by_type, nextqa_metrics, star_metrics
from sevila.metrics.exports import write_nextqa_results, write_vlep_submission

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
        raise SevilaError(f"{benchmark.name} is scored by moment retrieval, not by answer accuracy")
    return QA_TABLES[benchmark.metric](list(rows))


def score(benchmark: Benchmark, rows: Sequence[QARow], source: str, hint: str = "") -> dict[str, float]:
    """Check the rows' option indices, then the official table; a qid the table cannot place names `source`."""
    check_options(benchmark, rows, source)
    try:
        return qa_table(benchmark, rows)
    except ValueError as error:
        raise SevilaError(f"{source}: {error}{hint}") from None


def check_scorable(benchmark: Benchmark, qids: Sequence[str], source: str) -> None:
    """Fail before any work if the official table cannot be made from these questions (unknown type, a STAR
    category with no question): the same table function, on placeholder answers."""
    score(benchmark, [QARow(qid, 0, 0) for qid in qids], source)


def write_submission(benchmark: Benchmark, path: str | os.PathLike[str], rows: Sequence[QARow]) -> None:
    """The benchmark's official submission file of these rows (NExT-QA results json, VLEP jsonl)."""
    if benchmark.name not in SUBMISSION_WRITERS:
        raise SevilaError(
            f"--export: {benchmark.name} has no official submission format (only {sorted(SUBMISSION_WRITERS)})"
        )
    SUBMISSION_WRITERS[benchmark.name](path, list(rows))
