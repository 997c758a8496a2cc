"""NExT-GQA grounded QA (Xiao et al., CVPR 2024): IoP, IoU and the official aggregates of `eval_ground.py`.

The rules restate the official scorer (docs/metrics.md has the full list):
- a prediction is read as its first and last number, `[p_s, p_e]` in seconds;
- against one ground-truth window g: a point prediction (p_s == p_e) has IoU 0 and IoP 1 if it lies
  in g (ends included), else 0; otherwise I = min(p_e, g_e) - max(p_s, g_s), IoU = I / hull length
  (0 if the hull is empty) and IoP = I / (p_e - p_s), over the *predicted* length (0 if p_e < p_s);
- a question scores the best IoU and, separately, the best IoP over its windows (never merged), at least 0;
- the grounding metrics average over the questions that have a predicted window; the others drop out;
- Acc@GQA = the share of those questions answered correctly *and* with IoP >= 0.5;
- Acc@QA (eval_next.py) = the share of correct answers over all ground-truth questions.
The arithmetic follows the official order of operations, so the floats are the same bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Window = tuple[float, float]
THRESHOLDS = (0.3, 0.5)
ACC_GQA_IOP = 0.5  # Acc@GQA needs IoP >= 0.5, not IoU (eval_ground.py)


def _pair(prediction: Sequence[float], truth: Window) -> tuple[float, float]:
    """(IoU, IoP) of one prediction against one ground-truth window, as `get_tIoU` computes them."""
    start, end = prediction[0], prediction[-1]
    if start == end:
        return 0.0, float(truth[0] <= start <= truth[1])
    intersection = min(truth[1], end) - max(truth[0], start)  # negative when the windows are disjoint
    hull = max(truth[1], end) - min(truth[0], start)
    return (intersection / hull if hull > 0 else 0.0), (intersection / (end - start) if end > start else 0.0)


def iou(prediction: Sequence[float], truths: Sequence[Window]) -> float:
    """Best temporal IoU of `[start, ..., end]` over the ground-truth windows, at least 0."""
    return max([0.0, *(_pair(prediction, truth)[0] for truth in truths)])


def iop(prediction: Sequence[float], truths: Sequence[Window]) -> float:
    """Best intersection over the predicted window's length over the ground-truth windows, at least 0."""
    return max([0.0, *(_pair(prediction, truth)[1] for truth in truths)])


@dataclass(frozen=True)
class GroundedQAMetrics:
    """NExT-GQA metrics in percent (unrounded; None without answers) and the counts behind them."""

    acc_qa: float | None
    acc_gqa: float | None
    miop: float
    iop_at: dict[float, float]
    miou: float
    iou_at: dict[float, float]
    num_questions: int  # ground-truth questions
    num_evaluated: int  # of those, with a predicted window: the grounding metrics' denominator
    missing_predictions: int  # ground-truth questions without a predicted window (left out, as officially)
    unmatched_predictions: int  # predicted windows of questions not in the ground truth (ignored)
    num_answered: int | None
    missing_answers: int | None
    unmatched_answers: int | None

    def to_json(self) -> dict[str, Any]:
        """The metrics rounded as the official scripts print them (Acc@QA 2 decimals, the rest 1), then counts."""
        report: dict[str, Any] = {"Acc@QA": _round(self.acc_qa, 2), "Acc@GQA": _round(self.acc_gqa, 1)}
        report["mIoP"] = _round(self.miop, 1)
        report.update({f"IoP@{t}": _round(self.iop_at[t], 1) for t in THRESHOLDS})
        report["mIoU"] = _round(self.miou, 1)
        report.update({f"IoU@{t}": _round(self.iou_at[t], 1) for t in THRESHOLDS})
        counts = ("num_questions", "num_evaluated", "missing_predictions", "unmatched_predictions",
                  "num_answered", "missing_answers", "unmatched_answers")  # fmt: skip
        return {**report, **{name: getattr(self, name) for name in counts}}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def nextgqa_metrics(
    truths: Mapping[str, Sequence[Window]],
    windows: Mapping[str, Sequence[float]],
    correct: Mapping[str, bool] | None = None,
) -> GroundedQAMetrics:
    """Score predicted windows (and answers: key -> prediction == answer) against windows by `<video>_<qid>`."""
    evaluated = [key for key in truths if key in windows]
    if not evaluated:
        raise ValueError("no predicted window belongs to a ground-truth question")
    count = len(evaluated)
    ious = [iou(windows[key], truths[key]) for key in evaluated]
    iops = [iop(windows[key], truths[key]) for key in evaluated]
    acc_gqa = None
    if correct is not None:
        hits = sum(1 for key, value in zip(evaluated, iops) if value >= ACC_GQA_IOP and correct.get(key, False))
        acc_gqa = hits * 1.0 / count * 100
    return GroundedQAMetrics(
        acc_qa=_acc_qa(truths, correct),
        acc_gqa=acc_gqa,
        miop=sum(iops) / count * 100,
        iop_at={t: sum(1 for value in iops if value >= t) * 1.0 / count * 100 for t in THRESHOLDS},
        miou=sum(ious) / count * 100,
        iou_at={t: sum(1 for value in ious if value >= t) * 1.0 / count * 100 for t in THRESHOLDS},
        num_questions=len(truths),
        num_evaluated=count,
        missing_predictions=len(truths) - count,
        unmatched_predictions=sum(1 for key in windows if key not in truths),
        num_answered=None if correct is None else sum(1 for key in truths if key in correct),
        missing_answers=None if correct is None else sum(1 for key in truths if key not in correct),
        unmatched_answers=None if correct is None else sum(1 for key in correct if key not in truths),
    )


def _acc_qa(truths: Mapping[str, Sequence[Window]], correct: Mapping[str, bool] | None) -> float | None:
    """Percent correct over the ground-truth questions that have an answer (eval_next.py: `acc*100.0/cnt`)."""
    if correct is None:
        return None
    answered = [key for key in truths if key in correct]
    if not answered:
        return None
    return sum(1 for key in answered if correct[key]) * 100.0 / len(answered)
