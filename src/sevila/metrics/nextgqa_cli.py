"""`sevila metrics nextgqa --predictions P [--answers A] --annotations GSUB`: NExT-GQA grounded QA, one JSON object.

Output: Acc@QA, Acc@GQA, mIoP, IoP@0.3, IoP@0.5, mIoU, IoU@0.3, IoU@0.5 (docs/metrics.md), then
the counts: `num_questions` (ground truth), `num_evaluated` (with a predicted window),
`missing_predictions` (without one: left out of the grounding metrics, as the official scorer does),
`unmatched_predictions` (windows of other questions: ignored), and `num_answered`,
`missing_answers`, `unmatched_answers` (null, like Acc@QA and Acc@GQA, when no answers were given).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping

from sevila.errors import SevilaError
from sevila.metrics.grounding import nextgqa_metrics
from sevila.metrics.grounding_formats import read_answers, read_predictions, read_truth_windows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sevila metrics nextgqa", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--predictions",
        required=True,
        help='official windows .json {"<video>_<qid>": [start, end]} (seconds), or our predictions.json '
        "(rows with 'window', which also hold the answers)",
    )
    parser.add_argument(
        "--answers", help='official QA results .json {"<video>_<qid>": {"prediction", "answer"}} (e.g. val-res.json)'
    )
    parser.add_argument(
        "--annotations", required=True, help="NExT-GQA gsub_<split>.json, or the output of `sevila prepare nextgqa`"
    )
    parser.add_argument(
        "--allow-unmatched",
        action="store_true",
        help="score Acc@QA over the answered questions instead of failing on an unanswered one",
    )
    return parser


def main(argv: list[str]) -> int:
    """Print the NExT-GQA metrics of one prediction file as one JSON object on stdout."""
    args = _parser().parse_args(argv)
    truths = read_truth_windows(args.annotations)
    windows, correct = read_predictions(args.predictions)
    if args.answers is not None:
        if correct is not None:
            raise SevilaError(f"--answers: {args.predictions} already holds the answers; drop --answers")
        correct = read_answers(args.answers)
    if correct is not None and not args.allow_unmatched:
        _require_answers(args, truths, correct)
    try:
        metrics = nextgqa_metrics(truths, windows, correct)
    except ValueError:
        raise SevilaError(
            f"{args.predictions}: none of its {len(windows)} windows is for a question of {args.annotations}; "
            "check the split and the keys ('<video>_<qid>', e.g. 4882821564_1)"
        ) from None
    print(json.dumps(metrics.to_json()))
    return 0


def _require_answers(args: argparse.Namespace, truths: Mapping[str, object], correct: Mapping[str, bool]) -> None:
    """Acc@QA needs every ground-truth question answered, as the official eval_next.py does."""
    missing = [key for key in truths if key not in correct]
    if missing:
        raise SevilaError(
            f"{args.answers or args.predictions}: no answer for question {missing[0]!r} of {args.annotations} "
            f"({len(missing)} of {len(truths)} unanswered); answer them all, or pass --allow-unmatched "
            "to score the answered ones"
        )
