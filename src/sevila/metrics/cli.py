"""`sevila metrics DATASET --predictions P [--annotations A]`: score a prediction file, print one JSON object.

Output: the dataset's metrics (docs/metrics.md), then `num_evaluated`, `unmatched_predictions`
(predicted qids absent from the annotations) and `missing_predictions` (annotated qids without a
prediction); both counts are null when no annotations were given. By default any unmatched or
missing qid is an error, as in the official evaluations; `--allow-unmatched` scores the shared qids.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sevila.benchmarks import BENCHMARKS, benchmark
from sevila.cli_parser import OneLineParser
from sevila.errors import SevilaError
from sevila.io import check_output_file
from sevila.metrics.accuracy import QARow
from sevila.metrics.formats import (
    Prediction,
    read_moment_annotations,
    read_moment_predictions,
    read_qa_annotations,
    read_qa_predictions,
)
from sevila.metrics.moments import moment_retrieval_metrics
from sevila.metrics.nextgqa_cli import main as nextgqa_main
from sevila.metrics.official import check_options, score, write_submission


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="sevila metrics", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(BENCHMARKS))
    parser.add_argument(
        "--predictions",
        type=Path,
        required=True,
        help="NExT-QA results .json, VLEP submission .jsonl, Moment-DETR submission .jsonl, or our predictions .json",
    )
    parser.add_argument(
        "--annotations",
        type=Path,
        help="NExT-QA val.csv, VLEP dev .jsonl, QVHighlights highlight_val_release.jsonl, or a SeViLA-format .json",
    )
    parser.add_argument(
        "--allow-unmatched", action="store_true", help="score the qids in both files instead of failing on the others"
    )
    parser.add_argument(
        "--export", type=Path, help="also write the scored rows in the official submission format (nextqa, vlep)"
    )
    return parser


def main(argv: list[str]) -> int:
    """Print the metrics of one prediction file as one JSON object on stdout."""
    if argv[:1] == ["nextgqa"]:  # its own flags (windows, answers, gsub): `sevila metrics nextgqa --help`
        return nextgqa_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.export is not None:
        check_output_file(args.export, "--export", [p for p in (args.predictions, args.annotations) if p is not None])
    result = _moment_metrics(args) if benchmark(args.dataset).metric == "moments" else _qa_metrics(args)
    print(json.dumps(result))
    return 0


def _match(
    predicted: Iterable[str], annotated: Mapping[str, Any], args: argparse.Namespace
) -> tuple[list[str], dict[str, Any]]:
    """The qids in both files (prediction order) and the counts of the others; fail on those unless allowed."""
    predicted = list(predicted)
    predicted_set = set(predicted)
    unknown = [qid for qid in predicted if qid not in annotated]
    missing = [qid for qid in annotated if qid not in predicted_set]
    fix = "check the dataset and split, or pass --allow-unmatched to score the shared qids"
    if unknown and not args.allow_unmatched:
        raise SevilaError(
            f"{args.predictions}: qid {unknown[0]!r} is not in {args.annotations} ({len(unknown)} such); {fix}"
        )
    if missing and not args.allow_unmatched:
        raise SevilaError(
            f"{args.predictions}: no prediction for qid {missing[0]!r} of {args.annotations} "
            f"({len(missing)} missing); {fix}"
        )
    shared = [qid for qid in predicted if qid in annotated]
    if not shared:
        raise SevilaError(f"{args.predictions}: no qid in common with {args.annotations}; check the dataset and split")
    return shared, {"unmatched_predictions": len(unknown), "missing_predictions": len(missing)}


def _annotated_row(args: argparse.Namespace, qid: str, prediction: Prediction, answer: int) -> QARow:
    if prediction.target is not None and prediction.target != answer:
        raise SevilaError(
            f"{args.predictions}: qid {qid!r}: the answer is {prediction.target} here "
            f"but {answer} in {args.annotations}"
        )
    return QARow(qid, prediction.prediction, answer)


def _unannotated_row(args: argparse.Namespace, qid: str, prediction: Prediction) -> QARow:
    if prediction.target is None:
        raise SevilaError(f"{args.predictions}: qid {qid!r}: this format carries no answers; pass --annotations")
    return QARow(qid, prediction.prediction, prediction.target)


def _with_nextqa_types(predictions: dict[str, Prediction], answers: Mapping[str, int]) -> dict[str, Prediction]:
    """Rename NExT-QA results keys `<video>_<qid>` to our qids `<type>_<video>_<qid>` found in the annotations."""
    typed = {qid.partition("_")[2]: qid for qid in answers}
    return {key if key in answers else typed.get(key, key): value for key, value in predictions.items()}


def _qa_metrics(args: argparse.Namespace) -> dict[str, Any]:
    predictions = read_qa_predictions(args.predictions)
    if args.annotations is None:
        rows = [_unannotated_row(args, qid, prediction) for qid, prediction in predictions.items()]
        counts: dict[str, Any] = {"unmatched_predictions": None, "missing_predictions": None}
    else:
        answers = read_qa_annotations(args.annotations)
        if args.dataset == "nextqa":
            predictions = _with_nextqa_types(predictions, answers)
        shared, counts = _match(predictions, answers, args)
        rows = [_annotated_row(args, qid, predictions[qid], answers[qid]) for qid in shared]
    table = benchmark(args.dataset)
    check_options(table, rows, str(args.predictions))
    if args.export is not None:
        write_submission(table, args.export, rows)
    hint = "; pass --annotations to take the question types from them" if args.annotations is None else ""
    metrics = score(table, rows, str(args.predictions), hint)
    return {**metrics, "num_evaluated": len(rows), **counts}


def _moment_metrics(args: argparse.Namespace) -> dict[str, Any]:
    if args.annotations is None:
        raise SevilaError("qvhighlights needs --annotations (e.g. highlight_val_release.jsonl)")
    predictions = read_moment_predictions(args.predictions)
    windows = read_moment_annotations(args.annotations)
    shared, counts = _match(predictions, windows, args)
    metrics = moment_retrieval_metrics(predictions, {qid: windows[qid] for qid in shared})
    return {**metrics, "num_evaluated": len(shared), **counts}
