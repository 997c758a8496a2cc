"""The numbers of repeated runs: mean and standard error over seeds, and the paired difference of two cells."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from sevila.errors import SevilaError


def mean_se(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and standard error (sample standard deviation / sqrt(n)); no SE from a single value."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    return mean, statistics.stdev(values) / math.sqrt(len(values))


def paired_difference(base: list[dict[str, Any]], other: list[dict[str, Any]], where: str) -> tuple[float, float, int]:
    """Accuracy of `other` minus `base` on the same questions, its paired SE (both x 100), and the question count."""
    right = {row["qid"]: row["prediction"] == row["target"] for row in base}
    right_other = {row["qid"]: row["prediction"] == row["target"] for row in other}
    if set(right) != set(right_other) or not right:
        missing = sorted(set(right) ^ set(right_other))[:3]
        raise SevilaError(f"{where}: the two cells' predictions.json hold other questions (e.g. {missing}); "
                          "compare cells evaluated on the same data")
    differences = [float(right_other[qid]) - float(right[qid]) for qid in right]
    mean, se = mean_se(differences)
    return 100 * mean, 100 * (se or 0.0), len(differences)
