"""Benchmark metrics (sevila-method.md §9): accuracy by question type, QVHighlights moment retrieval, NExT-GQA
grounded QA, readers of the official prediction/annotation formats and writers of the official submission formats."""

from __future__ import annotations

from sevila.metrics.accuracy import (
    QARow,
    accuracy_by_type,
    nextqa_metrics,
    question_type,
    star_metrics,
)
from sevila.metrics.exports import write_moment_submission, write_nextqa_results, write_vlep_submission
from sevila.metrics.formats import (
    Prediction,
    read_moment_annotations,
    read_moment_predictions,
    read_qa_annotations,
    read_qa_predictions,
)
from sevila.metrics.grounding import GroundedQAMetrics, iop, iou, nextgqa_metrics
from sevila.metrics.moments import (
    average_precision,
    frame_scores_to_moments,
    moment_retrieval_metrics,
    temporal_iou,
)

__all__ = [
    "GroundedQAMetrics",
    "Prediction",
    "QARow",
    "accuracy_by_type",
    "average_precision",
    "frame_scores_to_moments",
    "iop",
    "iou",
    "moment_retrieval_metrics",
    "nextgqa_metrics",
    "nextqa_metrics",
    "question_type",
    "read_moment_annotations",
    "read_moment_predictions",
    "read_qa_annotations",
    "read_qa_predictions",
    "star_metrics",
    "temporal_iou",
    "write_moment_submission",
    "write_nextqa_results",
    "write_vlep_submission",
]
